package nfsd

import (
	"errors"
	"syscall"

	"github.com/filegate/filegate/cache"
)

// maxNameArg bounds the names and paths decoded from requests; longer
// ones are garbage. Names over 255 bytes decode and get NAMETOOLONG from
// the cache.
const maxNameArg = 4096

func (d *decoder) fh() []byte { return d.opaque(maxHandle) }

func (r *call) fsid() uint32 { return r.x.ID }

func (r *call) readOnly() bool { return r.x.ReadOnly }

func (r *call) status(st uint32) { r.e.uint32(st) }

func (r *call) handle(a *cache.Attr) fileHandle {
	return fileHandle{ExportID: r.fsid(), Ino: a.Ino, Gen: a.Gen}
}

// resolve turns a handle into the inode's attributes: BADHANDLE for
// bytes we never made, STALE for another export, a removed inode or an
// older generation.
func (r *call) resolve(fh []byte) (cache.Attr, uint32) {
	h, ok := parseHandle(fh)
	if !ok {
		return cache.Attr{}, nfs3ErrBadHandle
	}
	if h.ExportID != r.fsid() {
		return cache.Attr{}, nfs3ErrStale
	}
	a, err := r.x.c.GetAttr(r.ctx, h.Ino)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return a, nfs3ErrStale
		}
		return a, status(err)
	}
	if a.Gen != h.Gen {
		return a, nfs3ErrStale
	}
	return a, nfs3OK
}

// resolveTarget resolves the second handle of RENAME or LINK: one of
// another export of this server is XDEV, as between two file systems
// (mv then copies and removes), not STALE.
func (r *call) resolveTarget(fh []byte) (cache.Attr, uint32) {
	if h, ok := parseHandle(fh); ok && h.ExportID != r.fsid() && r.s.byID[h.ExportID] != nil {
		return cache.Attr{}, nfs3ErrXDev
	}
	return r.resolve(fh)
}

// attr is the current attributes of ino for a post_op_attr, or nil.
func (r *call) attr(ino cache.Ino) *cache.Attr {
	a, err := r.x.c.GetAttr(r.ctx, ino)
	if err != nil {
		return nil
	}
	return &a
}

// ptrIf is a when ok, else nil: the attributes of a handle for a
// post_op_attr or pre_op_attr, absent when the handle did not resolve.
func ptrIf(ok bool, a *cache.Attr) *cache.Attr {
	if ok {
		return a
	}
	return nil
}
