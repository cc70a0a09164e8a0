package gateway

import (
	"context"
	"io/fs"
	"os"
	"time"

	"github.com/filegate/filegate/cache"
)

// go-nfs applies an NFS SETATTR through these methods on the path of the
// handle, so they act on the object the handle names: Chmod and Chtimes do
// not follow a final symbolic link, unlike os.Chmod (NFS SETATTR on a
// link's handle changes the link).

// Chmod sets the permission bits of name.
func (f *fsys) Chmod(name string, mode os.FileMode) error {
	return f.setattr("chmod", name, false, func(context.Context, cache.Attr) (cache.SetAttr, error) {
		m := mode & permBits
		return cache.SetAttr{Mode: &m}, nil
	})
}

// Lchown sets the owner and group of name itself.
func (f *fsys) Lchown(name string, uid, gid int) error {
	return f.chown("lchown", name, false, uid, gid)
}

// Chown sets the owner and group of name, following a symbolic link.
func (f *fsys) Chown(name string, uid, gid int) error {
	return f.chown("chown", name, true, uid, gid)
}

func (f *fsys) chown(op, name string, follow bool, uid, gid int) error {
	return f.setattr(op, name, follow, func(context.Context, cache.Attr) (cache.SetAttr, error) {
		var set cache.SetAttr
		// A negative id leaves that field alone, as in chown(2).
		if uid >= 0 {
			u := uint32(uid)
			set.UID = &u
		}
		if gid >= 0 {
			g := uint32(gid)
			set.GID = &g
		}
		return set, nil
	})
}

// Chtimes sets the access and modification times of name.
//
// go-nfs reports atime, mtime and ctime all as the modification time
// (FileInfo has nothing else), and when a SETATTR changes only the mtime it
// passes that old "atime", which is really the old mtime. So an atime
// equal to the current mtime is taken to mean "leave atime alone".
func (f *fsys) Chtimes(name string, atime, mtime time.Time) error {
	return f.setattr("chtimes", name, false, func(_ context.Context, cur cache.Attr) (cache.SetAttr, error) {
		set := cache.SetAttr{Mtime: &mtime}
		if !atime.Equal(cur.Mtime) {
			set.Atime = &atime
		}
		return set, nil
	})
}

// setattr resolves name and applies the change build makes from its
// current attributes.
func (f *fsys) setattr(op, name string, follow bool, build func(context.Context, cache.Attr) (cache.SetAttr, error)) error {
	return do0(f, op, name, func(ctx context.Context) error {
		a, err := f.walkPath(ctx, name, follow)
		if err != nil {
			return err
		}
		set, err := build(ctx, a)
		if err != nil {
			return err
		}
		_, err = f.c.SetAttr(ctx, a.Ino, set)
		return err
	})
}

// Mknod makes a block device. go-nfs calls it only for NF3BLK (its NF3CHR
// case is empty), and the mode it passes holds permission bits only.
func (f *fsys) Mknod(name string, mode, major, minor uint32) error {
	return f.mknod("mknod", name, fs.ModeDevice|fs.FileMode(mode)&permBits, major, minor)
}

// Mkfifo makes a named pipe.
func (f *fsys) Mkfifo(name string, mode uint32) error {
	return f.mknod("mkfifo", name, fs.ModeNamedPipe|fs.FileMode(mode)&permBits, 0, 0)
}

// Socket makes a socket node. go-nfs passes no mode; it applies the
// client's one afterwards.
func (f *fsys) Socket(name string) error {
	return f.mknod("socket", name, fs.ModeSocket|0o644, 0, 0)
}

func (f *fsys) mknod(op, name string, mode fs.FileMode, major, minor uint32) error {
	return do0(f, op, name, func(ctx context.Context) error {
		dir, last, err := f.parent(ctx, name)
		if err != nil {
			return err
		}
		na, err := f.newAttr(ctx, dir, mode)
		if err != nil {
			return err
		}
		na.Major, na.Minor = major, minor
		_, err = f.c.Create(ctx, dir, last, na)
		return err
	})
}

// Link makes link a new name of the existing non-directory target, as
// os.Link(target, link) does.
func (f *fsys) Link(target, link string) error {
	return do0(f, "link", link, func(ctx context.Context) error {
		a, err := f.walkPath(ctx, target, false)
		if err != nil {
			return err
		}
		dir, name, err := f.parent(ctx, link)
		if err != nil {
			return err
		}
		_, err = f.c.Link(ctx, a.Ino, dir, name)
		return err
	})
}
