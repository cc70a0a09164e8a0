package gateway

import (
	"context"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"path"
	"strings"
	"syscall"

	billy "github.com/go-git/go-billy/v5"
	nfs "github.com/willscott/go-nfs"

	"github.com/filegate/filegate/cache"
)

// Handler is the go-nfs Handler of one export. File handles are the
// gateway's own (handle.go), not go-nfs's CachingHandler ones, which live
// in memory and so die with the process.
type Handler struct {
	fs         *fsys
	exportName string // cleaned, always starting with "/"
	exportID   uint32
	dirs       *dirCache
	log        *slog.Logger
}

var (
	_ nfs.Handler        = (*Handler)(nil)
	_ nfs.CachingHandler = (*Handler)(nil)
)

func newHandler(f *fsys, exportName string, exportID uint32, log *slog.Logger) *Handler {
	return &Handler{
		fs:         f,
		exportName: cleanExport(exportName),
		exportID:   exportID,
		dirs:       newDirCache(dirCacheListings, dirCacheEntries),
		log:        log,
	}
}

// cleanExport maps "", "/" and "/a/b/" to their canonical "/", "/a/b".
func cleanExport(p string) string { return path.Clean("/" + p) }

// Mount answers MOUNT for the configured export only. AUTH_UNIX is
// listed first so clients pick it; go-nfs checks no credentials on NFS
// calls either way.
func (h *Handler) Mount(_ context.Context, _ net.Conn, req nfs.MountRequest) (nfs.MountStatus, billy.Filesystem, []nfs.AuthFlavor) {
	if cleanExport(string(req.Dirpath)) != h.exportName {
		h.log.Info("mount refused: no such export", "op", "mount", "path", string(req.Dirpath))
		return nfs.MountStatusErrNoEnt, nil, nil
	}
	switch nfs.AuthFlavor(req.Header.Cred.Flavor) {
	case nfs.AuthFlavorNull, nfs.AuthFlavorUnix:
	default:
		h.log.Info("mount refused: auth flavor", "op", "mount", "path", string(req.Dirpath))
		return nfs.MountStatusErrAcces, nil, nil
	}
	h.log.Debug("mount", "op", "mount", "path", string(req.Dirpath))
	return nfs.MountStatusOk, h.fs, []nfs.AuthFlavor{nfs.AuthFlavorUnix, nfs.AuthFlavorNull}
}

// Change returns the filesystem itself, which also implements
// nfs.UnixChange (MKNOD, LINK).
func (h *Handler) Change(billy.Filesystem) billy.Change { return h.fs }

// FSStat reports the cache's capacity.
func (h *Handler) FSStat(_ context.Context, _ billy.Filesystem, st *nfs.FSStat) error {
	s, err := do(h.fs, "fsstat", "", func(ctx context.Context) (cache.FSStat, error) {
		return h.fs.c.StatFS(ctx)
	})
	if err != nil {
		return err
	}
	st.TotalSize = s.TotalBytes
	st.FreeSize = s.FreeBytes
	st.AvailableSize = s.AvailBytes
	st.TotalFiles = s.TotalFiles
	st.FreeFiles = s.FreeFiles
	st.AvailableFiles = s.FreeFiles
	return nil
}

// ToHandle returns the handle of the inode at p, or nil if there is none.
// go-nfs asks for some handles before the object exists (MKNOD, LINK): a
// client receiving an empty handle looks the name up instead.
func (h *Handler) ToHandle(_ billy.Filesystem, p []string) []byte {
	a, err := do(h.fs, "tohandle", strings.Join(p, "/"), func(ctx context.Context) (cache.Attr, error) {
		names, err := splitPath(strings.Join(p, "/"))
		if err != nil {
			return cache.Attr{}, err
		}
		return h.fs.walk(ctx, names, false)
	})
	if err != nil {
		return nil
	}
	return fileHandle{ExportID: h.exportID, Ino: a.Ino, Gen: a.Gen}.marshal()
}

// poisonPath is what FromHandle returns when it cannot tell whether the
// handle is good (see poison). Two components, so that LOOKUP ".." (go-nfs
// drops the last component) cannot land on the root.
var poisonPath = []string{poison, poison}

// FromHandle decodes fh and returns the current path of its inode. Only a
// handle that is malformed, of another export, of a removed inode, or of
// an older generation is an error (go-nfs answers NFS3ERR_STALE).
func (h *Handler) FromHandle(fh []byte) (billy.Filesystem, []string, error) {
	hd, err := parseHandle(fh)
	if err != nil {
		return nil, nil, err
	}
	if hd.ExportID != h.exportID {
		return nil, nil, &fs.PathError{Op: "fromhandle", Path: "", Err: syscall.ESTALE}
	}
	p, err := do(h.fs, "fromhandle", "", func(ctx context.Context) (string, error) {
		a, err := h.fs.c.GetAttr(ctx, hd.Ino)
		if err != nil {
			return "", err
		}
		if a.Gen != hd.Gen {
			return "", syscall.ESTALE
		}
		return h.fs.c.Path(ctx, hd.Ino)
	})
	switch {
	case err == nil:
		if p == "" {
			return h.fs, []string{}, nil
		}
		return h.fs, strings.Split(p, "/"), nil
	case errIs(err, syscall.ENOENT), errIs(err, syscall.ESTALE):
		return nil, nil, err
	default:
		h.log.Warn("file handle check failed", "op", "fromhandle", "err", err)
		return h.fs, poisonPath, nil
	}
}

// InvalidateHandle does nothing: handles stay valid across renames, and
// the handle of a removed inode goes stale by itself.
func (h *Handler) InvalidateHandle(billy.Filesystem, []byte) error { return nil }

// HandleLimit is unlimited: handles cost no memory. go-nfs uses half of
// it as the most entries one READDIR reply may hold, where the client's
// byte limits are what should count.
func (h *Handler) HandleLimit() int { return math.MaxInt32 }

// VerifierFor returns the cookie verifier of a listing and keeps the
// listing for later pages (see dirCache).
func (h *Handler) VerifierFor(_ string, contents []fs.FileInfo) uint64 {
	return h.dirs.verifierFor(contents)
}

// DataForVerifier returns the listing with the given verifier, or nil.
func (h *Handler) DataForVerifier(_ string, verifier uint64) []fs.FileInfo {
	return h.dirs.dataFor(verifier)
}
