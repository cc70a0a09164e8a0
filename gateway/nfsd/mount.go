package nfsd

import (
	"net"
	"path"
	"strings"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway"
)

// MOUNT v3 statuses (RFC 1813 appendix I).
const (
	mnt3OK          = 0
	mnt3ErrNoEnt    = 2
	mnt3ErrAcces    = 13
	mnt3ErrNotSupp  = 10004
	mnt3ErrServFail = 10006
	maxMountPath    = 1024
)

// exportOf returns the export that holds p (gateway.ExportOf) and p's
// path inside it; nil if none.
func (s *Server) exportOf(p string) (*export, string) {
	names := make([]string, len(s.exports))
	for i, x := range s.exports {
		names[i] = x.Name
	}
	i, rest := gateway.ExportOf(names, p)
	if i < 0 {
		return nil, ""
	}
	return s.exports[i], rest
}

// cleanExport maps "", "/" and "/a/b/" to "/", "/a/b".
func cleanExport(p string) string { return path.Clean("/" + p) }

func (r *call) clientHost() string {
	return r.conn.remote.Addr().Unmap().String()
}

func mountMnt(r *call, d *decoder) error {
	dirpath := d.string(maxMountPath)
	if d.err != nil {
		return d.err
	}
	x, rel := r.s.exportOf(dirpath)
	switch {
	case x == nil:
		r.s.log.Info("mount refused: no such export", "op", "mount", "path", dirpath, "key", r.clientHost())
		r.status(mnt3ErrNoEnt)
		return nil
	case !r.conn.allowed[x.idx]:
		r.s.log.Info("mount refused: client not allowed", "op", "mount", "path", dirpath, "key", r.clientHost())
		r.status(mnt3ErrAcces)
		return nil
	}
	r.x = x
	a, err := x.c.GetAttr(r.ctx, cache.RootIno)
	if err != nil {
		r.s.log.Warn("mount: root attributes", "op", "mount", "path", dirpath, "err", err)
		r.status(mnt3ErrServFail)
		return nil
	}
	// A folder below the export mounts too, as with knfsd's mountd
	// (libnfs mounts the folder of the file its URL names).
	for _, name := range strings.Split(strings.Trim(rel, "/"), "/") {
		if name == "" {
			continue
		}
		if a, err = r.x.c.Lookup(r.ctx, a.Ino, name); err != nil || !a.IsDir() {
			r.s.log.Info("mount refused: no such folder in the export", "op", "mount", "path", dirpath, "key", r.clientHost())
			r.status(mnt3ErrNoEnt)
			return nil
		}
	}
	r.s.mu.Lock()
	r.s.mounts[mountEntry{r.clientHost(), cleanExport(dirpath)}] = struct{}{}
	r.s.mu.Unlock()
	r.s.log.Debug("mount", "op", "mount", "path", dirpath, "key", r.clientHost())
	r.status(mnt3OK)
	h := r.handle(&a)
	r.e.uint32(handleLen)
	r.e.b = h.append(r.e.b)
	r.e.uint32(2) // auth flavors: AUTH_UNIX first, so clients pick it
	r.e.uint32(authFlavUnix)
	r.e.uint32(authFlavNone)
	return nil
}

func mountUmnt(r *call, d *decoder) error {
	dirpath := d.string(maxMountPath)
	if d.err != nil {
		return d.err
	}
	r.s.mu.Lock()
	delete(r.s.mounts, mountEntry{r.clientHost(), cleanExport(dirpath)})
	r.s.mu.Unlock()
	return nil
}

func mountUmntall(r *call, _ *decoder) error {
	host := r.clientHost()
	r.s.mu.Lock()
	for m := range r.s.mounts {
		if m.host == host {
			delete(r.s.mounts, m)
		}
	}
	r.s.mu.Unlock()
	return nil
}

func mountDump(r *call, _ *decoder) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	for m := range r.s.mounts {
		r.e.bool(true)
		r.e.string(m.host)
		r.e.string(m.dir)
	}
	r.e.bool(false)
	return nil
}

// mountExport lists the exports with their client networks; an empty
// group list means everyone.
func mountExport(r *call, _ *decoder) error {
	for _, x := range r.s.exports {
		r.e.bool(true)
		r.e.string(x.Name)
		for _, p := range x.Clients {
			r.e.bool(true)
			r.e.string(p.String())
		}
		r.e.bool(false)
	}
	r.e.bool(false)
	return nil
}

// Portmapper v2 (RFC 1833) on the NFS port itself too, for clients that
// ask the port they are connected to.

func pmapGetport(r *call, d *decoder) error {
	prog, vers, prot := d.uint32(), d.uint32(), d.uint32()
	d.uint32()
	if d.err != nil {
		return d.err
	}
	r.e.uint32(lookupPort(mappings(r.localPort()), prog, vers, prot))
	return nil
}

func pmapDump(r *call, _ *decoder) error {
	port := r.localPort()
	encodeDump(&r.e, append([]mapping{{progPortmap, 2, ipprotoTCP, port}}, mappings(port)...))
	return nil
}

func (r *call) localPort() uint32 {
	if ta, ok := r.conn.nc.LocalAddr().(*net.TCPAddr); ok {
		return uint32(ta.Port)
	}
	return 0
}
