package gateway

import (
	"context"
	"io/fs"
	"log/slog"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	billy "github.com/go-git/go-billy/v5"
	nfs "github.com/willscott/go-nfs"

	"github.com/filegate/filegate/cache"
)

// fsys is the billy filesystem go-nfs drives: a thin path walk over the
// cache's inode API. go-nfs hands it paths it got from FromHandle (the
// cache's own path of the inode) plus at most one client-supplied name, so
// every method resolves its path from the root with cache.Lookup and then
// makes one or two inode calls.
type fsys struct {
	c         nodes
	life      context.Context // the server's lifetime; cancelled by Close
	opTimeout time.Duration
	log       *slog.Logger
	gate      gate
}

var (
	_ billy.Filesystem = (*fsys)(nil)
	_ billy.Capable    = (*fsys)(nil)
	_ billy.Change     = (*fsys)(nil)
	_ nfs.UnixChange   = (*fsys)(nil)
)

func newFS(c nodes, life context.Context, opTimeout time.Duration, log *slog.Logger) *fsys {
	return &fsys{c: c, life: life, opTimeout: opTimeout, log: log}
}

// do runs one billy-level operation: it refuses to start once the server
// is closing, gives fn a context bounded by opTimeout (billy methods take
// none), turns a panic into EIO after logging its stack (go-nfs never
// recovers, and a panic there ends the process), and converts fn's error
// to the boundary form.
func do[T any](f *fsys, op, name string, fn func(ctx context.Context) (T, error)) (v T, err error) {
	if !f.gate.enter() {
		return v, &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	defer f.gate.exit()
	defer func() {
		if r := recover(); r != nil {
			f.log.Error("panic in nfs operation", "op", op, "path", name, "err", panicError(r, debug.Stack()))
			var zero T
			v, err = zero, &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
		}
	}()
	ctx, cancel := context.WithTimeout(f.life, f.opTimeout)
	defer cancel()
	v, err = fn(ctx)
	if err != nil {
		err = f.pathError(op, name, err)
		f.log.Debug("nfs operation failed", "op", op, "path", name, "err", err)
	}
	return v, err
}

// do0 is do for operations with no result.
func do0(f *fsys, op, name string, fn func(ctx context.Context) error) error {
	_, err := do(f, op, name, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, fn(ctx)
	})
	return err
}

// poison is a path component FromHandle returns when it could not check a
// handle for a reason other than the inode being gone (a timeout, a disk
// error). go-nfs answers every FromHandle error with NFS3ERR_STALE, which
// a client takes as "this file is gone for good" (and for the root handle,
// as a dead mount), so instead the handle resolves to a path on which
// every operation fails with EIO, which clients retry.
const poison = "\x00"

// splitPath turns a billy path into its components. The root is "", "/"
// or ".". Unlike filepath.Clean it does not resolve "." and ".."; it
// rejects them, because go-nfs builds paths by joining a client-supplied
// name to a directory path: REMOVE of "." in dir "a" arrives as "a/.",
// which cleaning would turn into a removal of "a" itself.
func splitPath(p string) ([]string, error) {
	if p == "." {
		return nil, nil
	}
	var names []string
	for name := range strings.SplitSeq(p, "/") {
		switch {
		case name == "":
			continue
		case name == poison:
			return nil, syscall.EIO
		case name == "." || name == ".." || strings.IndexByte(name, 0) >= 0:
			return nil, syscall.EINVAL
		case len(name) > nfs.PathNameMax:
			return nil, syscall.ENAMETOOLONG
		}
		names = append(names, name)
	}
	return names, nil
}

// Join joins elem with "/". It does not clean the result (see splitPath):
// a "." or ".." among elem is kept, and splitPath later rejects it.
func (f *fsys) Join(elem ...string) string {
	var b strings.Builder
	for _, e := range elem {
		if e == "" {
			continue
		}
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "/") {
			b.WriteByte('/')
		}
		b.WriteString(e)
	}
	return b.String()
}

// maxSymlinks bounds the symbolic links one walk follows, as Linux does.
const maxSymlinks = 40

// walk resolves names from the root. Symbolic links on the way are
// followed, within the export: an absolute target starts again at the
// export's root and ".." never leaves it. The last component's link is
// followed only when follow is set.
func (f *fsys) walk(ctx context.Context, names []string, follow bool) (cache.Attr, error) {
	// stack holds the directories from the root to the current one, for
	// the ".." of link targets.
	stack := []cache.Ino{cache.RootIno}
	queue := names
	links := 0
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		a, err := f.c.Lookup(ctx, stack[len(stack)-1], name)
		if err != nil {
			return cache.Attr{}, err
		}
		last := len(queue) == 0
		if a.Mode&fs.ModeSymlink != 0 && (!last || follow) {
			if links++; links > maxSymlinks {
				return cache.Attr{}, syscall.ELOOP
			}
			target, err := f.c.Readlink(ctx, a.Ino)
			if err != nil {
				return cache.Attr{}, err
			}
			if target == "" {
				return cache.Attr{}, syscall.ENOENT
			}
			if strings.HasPrefix(target, "/") {
				stack = stack[:1]
			}
			queue = append(strings.Split(target, "/"), queue...)
			continue
		}
		if last {
			return a, nil
		}
		if !a.IsDir() {
			return cache.Attr{}, syscall.ENOTDIR
		}
		stack = append(stack, a.Ino)
	}
	// The walk ended on a directory reached by "", "." or "..".
	return f.c.GetAttr(ctx, stack[len(stack)-1])
}

// walkPath is walk on a billy path.
func (f *fsys) walkPath(ctx context.Context, p string, follow bool) (cache.Attr, error) {
	names, err := splitPath(p)
	if err != nil {
		return cache.Attr{}, err
	}
	return f.walk(ctx, names, follow)
}

// parent resolves all but the last component of p to a directory and
// returns it with the last component. The root has no parent: EINVAL.
func (f *fsys) parent(ctx context.Context, p string) (cache.Ino, string, error) {
	names, err := splitPath(p)
	if err != nil {
		return 0, "", err
	}
	if len(names) == 0 {
		return 0, "", syscall.EINVAL
	}
	last := names[len(names)-1]
	if len(names) == 1 {
		return cache.RootIno, last, nil
	}
	d, err := f.walk(ctx, names[:len(names)-1], true)
	if err != nil {
		return 0, "", err
	}
	if !d.IsDir() {
		return 0, "", syscall.ENOTDIR
	}
	return d.Ino, last, nil
}

// newAttr is what a new inode in dir gets. go-nfs does not pass the RPC's
// credentials down to billy, so the owner cannot be the caller's; the new
// inode takes its directory's owner and group instead (for a share owned
// by one account, the right answer), and the client may chown it after.
func (f *fsys) newAttr(ctx context.Context, dir cache.Ino, mode fs.FileMode) (cache.NewAttr, error) {
	d, err := f.c.GetAttr(ctx, dir)
	if err != nil {
		return cache.NewAttr{}, err
	}
	return cache.NewAttr{Mode: mode, UID: d.UID, GID: d.GID}, nil
}

// permBits are the mode bits a client may set.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
