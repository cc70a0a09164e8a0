package cache

import (
	"context"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/writeback"
)

// Lookup returns the attributes of name in the directory dir; "." and
// ".." are understood. Errors: ENOENT, ENOTDIR, ENAMETOOLONG, ESTALE
// (dir no longer exists).
func (c *Cache) Lookup(ctx context.Context, dir Ino, name string) (Attr, error) {
	if name != "." && name != ".." {
		if err := ns.CheckName(name); err != nil {
			return Attr{}, err
		}
	}
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return Attr{}, err
	}
	var a Attr
	err := c.view(func(t *txn) error {
		d, err := t.GetDir(dir)
		if err != nil {
			return err
		}
		var child Ino
		switch name {
		case ".":
			child = dir
		case "..":
			child = d.Parent
			if dir == RootIno {
				child = RootIno
			}
		default:
			if child, _, err = t.Lookup(dir, name); err != nil {
				return err
			}
		}
		n, err := t.get(child)
		if err != nil {
			return err
		}
		a = attrOf(n)
		return nil
	})
	return a, wrap("lookup", name, err)
}

// GetAttr returns the attributes of ino. ESTALE when it no longer exists.
func (c *Cache) GetAttr(ctx context.Context, ino Ino) (Attr, error) {
	var a Attr
	err := c.view(func(t *txn) (err error) {
		a, err = attrIn(t, ino)
		return err
	})
	return a, wrap("getattr", "", err)
}

// attrIn is ino's attributes as t sees them: what GetAttr returns at
// that point.
func attrIn(t *txn, ino Ino) (Attr, error) {
	n, err := t.get(ino)
	if err != nil {
		return Attr{}, err
	}
	return attrOf(n), nil
}

// Path returns a path of ino from the root ("" for the root, "a/b"
// else). For a file with several hard links it is one of them.
func (c *Cache) Path(ctx context.Context, ino Ino) (string, error) {
	var p string
	err := c.view(func(t *txn) (err error) {
		p, err = t.Path(ino)
		return err
	})
	return p, wrap("path", "", err)
}

// create adds a new inode named name in dir, filled in by fill, and
// returns its attributes and the change to dir.
func (c *Cache) create(ctx context.Context, dir Ino, name string, fill func(n *ns.Inode)) (Attr, Change, error) {
	if err := ns.CheckName(name); err != nil {
		return Attr{}, Change{}, err
	}
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return Attr{}, Change{}, err
	}
	var a Attr
	var dc Change
	err := c.update(func(t *txn) error {
		d, err := t.GetDir(dir)
		if err != nil {
			return err
		}
		dc.Before = attrOf(d)
		if _, _, err := t.Lookup(dir, name); err == nil {
			return syscall.EEXIST
		}
		n, err := t.NewInode()
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		n.Atime, n.Mtime, n.Ctime = now, now, now
		n.Parent, n.Name = dir, name
		fill(n)
		if err := t.checkKeyRoom(dir, name, n.Mode.IsDir()); err != nil {
			return err
		}
		switch {
		case n.Mode.IsDir():
			d.Nlink++
			n.Nlink = 2
			// Made here, so nothing in the backend to list yet.
			n.Flags |= ns.FlagLoaded
			n.LoadedAt = now
			if err := t.enqueue(writeback.Op{Kind: writeback.Put, Ino: n.Ino, Key: mustKey(t, d, name, true)}); err != nil {
				return err
			}
		case n.Mode&fs.ModeSymlink != 0:
			if err := t.enqueue(writeback.Op{Kind: writeback.Put, Ino: n.Ino, Key: mustKey(t, d, name, false)}); err != nil {
				return err
			}
		case n.Mode.IsRegular():
			n.Flags |= ns.FlagLocal
			if err := t.setDirty(n); err != nil {
				return err
			}
		}
		d.Mtime, d.Ctime = now, now
		if err := t.put(n); err != nil {
			return err
		}
		a = attrOf(n)
		if err := t.Link(d, name, n); err != nil {
			return err
		}
		dc.After = attrOf(d)
		return nil
	})
	if err != nil {
		return Attr{}, Change{}, wrap("create", name, err)
	}
	if a.Mode.IsRegular() {
		c.wb.Touched(a.Ino)
	}
	return a, dc, nil
}

// setTimes gives n the times a sets.
func setTimes(n *ns.Inode, a NewAttr) {
	if !a.Atime.IsZero() {
		n.Atime = a.Atime.UnixNano()
	}
	if !a.Mtime.IsZero() {
		n.Mtime = a.Mtime.UnixNano()
	}
}

// mustKey is the key of the new entry name in d; t.Path of d cannot fail
// inside the transaction that just read d.
func mustKey(t *txn, d *ns.Inode, name string, isDir bool) string {
	p, _ := t.Path(d.Ino)
	if p != "" {
		p += "/"
	}
	p += name
	if isDir {
		p += "/"
	}
	return p
}

// Create makes a new regular file, or a special file (FIFO, socket,
// device) by the type bits of a.Mode, named name in dir, with a.Atime and
// a.Mtime when set. EEXIST when name exists. Special files live in the
// cache only: no store keeps them. It returns the new file's attributes
// and the change to dir.
func (c *Cache) Create(ctx context.Context, dir Ino, name string, a NewAttr) (Attr, Change, error) {
	typ := a.Mode.Type()
	switch typ {
	case 0, fs.ModeNamedPipe, fs.ModeSocket, fs.ModeDevice, fs.ModeDevice | fs.ModeCharDevice:
	default:
		return Attr{}, Change{}, fmt.Errorf("cache: create %q with type %v: %w", name, typ, syscall.EINVAL)
	}
	return c.create(ctx, dir, name, func(n *ns.Inode) {
		n.Mode = typ | a.Mode&ns.PermBits
		n.UID, n.GID, n.Major, n.Minor = a.UID, a.GID, a.Major, a.Minor
		setTimes(n, a)
	})
}

// Mkdir makes a directory, like Create. EEXIST when name exists.
func (c *Cache) Mkdir(ctx context.Context, dir Ino, name string, a NewAttr) (Attr, Change, error) {
	return c.create(ctx, dir, name, func(n *ns.Inode) {
		n.Mode = fs.ModeDir | a.Mode&ns.PermBits
		n.UID, n.GID = a.UID, a.GID
		setTimes(n, a)
	})
}

// Symlink makes a symbolic link to target, like Create. EEXIST when
// name exists.
func (c *Cache) Symlink(ctx context.Context, dir Ino, name, target string, a NewAttr) (Attr, Change, error) {
	if target == "" || len(target) > 4096 {
		return Attr{}, Change{}, fmt.Errorf("cache: symlink target of %d bytes: %w", len(target), syscall.EINVAL)
	}
	return c.create(ctx, dir, name, func(n *ns.Inode) {
		n.Mode = fs.ModeSymlink | 0o777
		n.UID, n.GID = a.UID, a.GID
		n.Target, n.Size = target, int64(len(target))
		setTimes(n, a)
	})
}

// Link adds the name in dir for the existing non-directory ino. EEXIST
// when name exists, EPERM when ino is a directory. The backend keeps one
// object per file, at its first name; other names live in the cache.
// It returns the file's new attributes and the change to dir.
func (c *Cache) Link(ctx context.Context, ino, dir Ino, name string) (Attr, Change, error) {
	if err := ns.CheckName(name); err != nil {
		return Attr{}, Change{}, err
	}
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return Attr{}, Change{}, err
	}
	var a Attr
	var dc Change
	err := c.update(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		if n.Mode.IsDir() {
			return syscall.EPERM
		}
		d, err := t.GetDir(dir)
		if err != nil {
			return err
		}
		dc.Before = attrOf(d)
		if _, _, err := t.Lookup(dir, name); err == nil {
			return syscall.EEXIST
		}
		if n.Nlink == 1 {
			if err := t.PutLink(n.Ino, n.Parent, n.Name); err != nil {
				return err
			}
		}
		if err := t.PutLink(n.Ino, dir, name); err != nil {
			return err
		}
		now := time.Now().UnixNano()
		n.Nlink++
		n.Ctime = now
		d.Mtime, d.Ctime = now, now
		if err := t.put(n); err != nil {
			return err
		}
		a = attrOf(n)
		if err := t.Link(d, name, n); err != nil {
			return err
		}
		dc.After = attrOf(d)
		return nil
	})
	if err != nil {
		return Attr{}, Change{}, wrap("link", name, err)
	}
	return a, dc, nil
}

// Readlink returns a symlink's target. EINVAL when ino is not a symlink.
func (c *Cache) Readlink(ctx context.Context, ino Ino) (string, error) {
	var target, key string
	err := c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		if n.Mode&fs.ModeSymlink == 0 {
			return syscall.EINVAL
		}
		target = n.Target
		if target == "" {
			key, err = t.Key(n)
		}
		return err
	})
	if err != nil || target != "" {
		return target, wrap("readlink", "", err)
	}
	return c.fetchSymlink(ctx, ino, key)
}

func wrap(opName, name string, err error) error {
	if err == nil {
		return nil
	}
	if name == "" {
		return fmt.Errorf("cache: %s: %w", opName, err)
	}
	return fmt.Errorf("cache: %s %q: %w", opName, name, err)
}
