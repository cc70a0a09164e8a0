package gateway

import (
	"context"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"

	billy "github.com/go-git/go-billy/v5"

	"github.com/filegate/filegate/cache"
)

// Capabilities reports read, write, seek and truncate; there are no file
// locks.
func (f *fsys) Capabilities() billy.Capability {
	return billy.WriteCapability | billy.ReadCapability | billy.ReadAndWriteCapability |
		billy.SeekCapability | billy.TruncateCapability
}

// Create creates or truncates name, as os.Create does.
func (f *fsys) Create(name string) (billy.File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

// Open opens name for reading.
func (f *fsys) Open(name string) (billy.File, error) {
	return f.OpenFile(name, os.O_RDONLY, 0)
}

// OpenFile only resolves the inode, creating it under O_CREATE and
// truncating it under O_TRUNC: go-nfs opens and closes the file around
// every READ and WRITE, so opening must never wait for file contents.
// O_EXCL counts only with O_CREATE (go-nfs passes O_WRONLY|O_EXCL to
// truncate an existing file).
func (f *fsys) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	return do(f, "open", name, func(ctx context.Context) (billy.File, error) {
		a, written, err := f.open(ctx, name, flag, perm)
		if err != nil {
			return nil, err
		}
		// Name() is the path relative to the root, as billy's osfs gives.
		names, _ := splitPath(name)
		return &file{fs: f, name: strings.Join(names, "/"), ino: a.Ino, flag: flag, dirty: written}, nil
	})
}

// open resolves name for OpenFile. written reports whether it truncated
// the file, a change Close must make durable.
func (f *fsys) open(ctx context.Context, name string, flag int, perm os.FileMode) (a cache.Attr, written bool, err error) {
	create := flag&os.O_CREATE != 0
	excl := create && flag&os.O_EXCL != 0
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	created := false

	names, err := splitPath(name)
	if err != nil {
		return a, false, err
	}
	if len(names) == 0 {
		if excl {
			return a, false, syscall.EEXIST
		}
		a, err = f.c.GetAttr(ctx, cache.RootIno)
	} else {
		dir, last, perr := f.parent(ctx, name)
		if perr != nil {
			return a, false, perr
		}
		a, err = f.c.Lookup(ctx, dir, last)
		switch {
		case err == nil && excl:
			return a, false, syscall.EEXIST
		case err == nil && a.Mode&fs.ModeSymlink != 0:
			a, err = f.walk(ctx, names, true)
		case errIs(err, syscall.ENOENT) && create:
			var na cache.NewAttr
			if na, err = f.newAttr(ctx, dir, perm&permBits); err != nil {
				return a, false, err
			}
			a, err = f.c.Create(ctx, dir, last, na)
			if errIs(err, syscall.EEXIST) && !excl {
				// Lost a race with another creator; open theirs.
				a, err = f.walk(ctx, names, true)
			} else {
				created = err == nil
			}
		}
	}
	if err != nil {
		return a, false, err
	}
	if a.IsDir() && writable {
		return a, false, syscall.EISDIR
	}
	if flag&os.O_TRUNC != 0 && writable && !created && a.Mode.IsRegular() {
		size := int64(0)
		if a, err = f.c.SetAttr(ctx, a.Ino, cache.SetAttr{Size: &size}); err != nil {
			return a, false, err
		}
		written = true
	}
	return a, written, nil
}

// Stat describes name, following a final symbolic link.
func (f *fsys) Stat(name string) (os.FileInfo, error) {
	return do(f, "stat", name, func(ctx context.Context) (os.FileInfo, error) {
		a, err := f.walkPath(ctx, name, true)
		if err != nil {
			return nil, err
		}
		return newFileInfo(baseName(name), a), nil
	})
}

// Lstat describes name itself, even if it is a symbolic link.
func (f *fsys) Lstat(name string) (os.FileInfo, error) {
	return do(f, "lstat", name, func(ctx context.Context) (os.FileInfo, error) {
		a, err := f.walkPath(ctx, name, false)
		if err != nil {
			return nil, err
		}
		return newFileInfo(baseName(name), a), nil
	})
}

// baseName is the last component of p, "/" for the root.
func baseName(p string) string {
	p = strings.TrimRight(p, "/")
	if p == "" || p == "." {
		return "/"
	}
	return p[strings.LastIndexByte(p, '/')+1:]
}

// Rename moves oldpath to newpath, replacing a compatible destination.
func (f *fsys) Rename(oldpath, newpath string) error {
	return do0(f, "rename", oldpath, func(ctx context.Context) error {
		srcDir, srcName, err := f.parent(ctx, oldpath)
		if err != nil {
			return err
		}
		dstDir, dstName, err := f.parent(ctx, newpath)
		if err != nil {
			return err
		}
		return f.c.Rename(ctx, srcDir, srcName, dstDir, dstName)
	})
}

// Remove removes a file or an empty directory. go-nfs calls it for both
// REMOVE and RMDIR, so the inode's type picks cache.Remove or cache.Rmdir:
// the file case is tried first as the common one.
func (f *fsys) Remove(name string) error {
	return do0(f, "remove", name, func(ctx context.Context) error {
		dir, last, err := f.parent(ctx, name)
		if err != nil {
			return err
		}
		err = f.c.Remove(ctx, dir, last)
		if errIs(err, syscall.EISDIR) {
			err = f.c.Rmdir(ctx, dir, last)
		}
		return err
	})
}

// ReadDir lists every entry of the directory p, sorted by name. The
// entries' attributes are fetched only when asked for: go-nfs lists the
// whole directory for every READDIR page and then describes only the
// entries of that page.
func (f *fsys) ReadDir(p string) ([]os.FileInfo, error) {
	return do(f, "readdir", p, func(ctx context.Context) ([]os.FileInfo, error) {
		d, err := f.walkPath(ctx, p, true)
		if err != nil {
			return nil, err
		}
		if !d.IsDir() {
			return nil, syscall.ENOTDIR
		}
		epoch := new(atomic.Uint64)
		var infos []os.FileInfo
		err = f.c.ReadDir(ctx, d.Ino, 0, func(e cache.DirEntry) bool {
			infos = append(infos, &entryInfo{fs: f, name: e.Name, ino: e.Ino, typ: e.Mode & fs.ModeType, epoch: epoch})
			return true
		})
		if err != nil {
			return nil, err
		}
		slices.SortFunc(infos, func(a, b os.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
		return infos, nil
	})
}

// MkdirAll makes p and any missing parents with mode perm.
func (f *fsys) MkdirAll(p string, perm os.FileMode) error {
	return do0(f, "mkdir", p, func(ctx context.Context) error {
		names, err := splitPath(p)
		if err != nil {
			return err
		}
		dir := cache.RootIno
		for i, name := range names {
			a, err := f.c.Lookup(ctx, dir, name)
			if errIs(err, syscall.ENOENT) {
				var na cache.NewAttr
				if na, err = f.newAttr(ctx, dir, perm&permBits); err != nil {
					return err
				}
				a, err = f.c.Mkdir(ctx, dir, name, na)
				if errIs(err, syscall.EEXIST) {
					a, err = f.c.Lookup(ctx, dir, name)
				}
			}
			if err == nil && a.Mode&fs.ModeSymlink != 0 {
				a, err = f.walk(ctx, names[:i+1], true)
			}
			if err != nil {
				return err
			}
			if !a.IsDir() {
				if i == len(names)-1 {
					return syscall.EEXIST
				}
				return syscall.ENOTDIR
			}
			dir = a.Ino
		}
		return nil
	})
}

// Symlink makes link a symbolic link to target. Unlike billy's osfs it
// does not create missing parents: NFS never asks for that.
func (f *fsys) Symlink(target, link string) error {
	return do0(f, "symlink", link, func(ctx context.Context) error {
		dir, name, err := f.parent(ctx, link)
		if err != nil {
			return err
		}
		na, err := f.newAttr(ctx, dir, fs.ModePerm)
		if err != nil {
			return err
		}
		_, err = f.c.Symlink(ctx, dir, name, target, na)
		return err
	})
}

// Readlink returns the target of the symbolic link name.
func (f *fsys) Readlink(name string) (string, error) {
	return do(f, "readlink", name, func(ctx context.Context) (string, error) {
		a, err := f.walkPath(ctx, name, false)
		if err != nil {
			return "", err
		}
		return f.c.Readlink(ctx, a.Ino)
	})
}

// TempFile is not supported: NFS has no use for it.
func (f *fsys) TempFile(dir, prefix string) (billy.File, error) {
	return nil, errUnsupported("tempfile", dir)
}

// Chroot is not supported: each export is its own cache.
func (f *fsys) Chroot(p string) (billy.Filesystem, error) {
	return nil, errUnsupported("chroot", p)
}

// Root returns "/", the export's root.
func (f *fsys) Root() string { return "/" }
