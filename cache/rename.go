package cache

import (
	"context"
	"errors"
	"io/fs"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/writeback"
)

// Rename moves srcName in srcDir to dstName in dstDir, replacing a
// destination of a compatible type as rename(2) does (EISDIR, ENOTDIR,
// ENOTEMPTY, EINVAL when a directory would move into itself). It
// returns the changes to srcDir and to dstDir (the same when they are).
func (c *Cache) Rename(ctx context.Context, srcDir Ino, srcName string, dstDir Ino, dstName string) (Change, Change, error) {
	if err := ns.CheckName(srcName); err != nil {
		return Change{}, Change{}, err
	}
	if err := ns.CheckName(dstName); err != nil {
		return Change{}, Change{}, err
	}
	for _, d := range []Ino{srcDir, dstDir} {
		if err := c.refresh.LoadDir(ctx, d); err != nil {
			return Change{}, Change{}, wrap("rename", srcName, err)
		}
	}
	// A directory moves in the backend under a new prefix, so everything
	// below it must be known here first; an existing destination
	// directory must be known to be empty.
	var src, dst Ino
	var srcMode, dstMode fs.FileMode
	err := c.view(func(t *txn) (err error) {
		if src, srcMode, err = t.Lookup(srcDir, srcName); err != nil {
			return err
		}
		dst, dstMode, err = t.Lookup(dstDir, dstName)
		if errors.Is(err, syscall.ENOENT) {
			dst, err = 0, nil
		}
		return err
	})
	if err == nil && srcMode.IsDir() {
		// Listing each directory below src (subtree) loads it.
		_, err = c.subtree(ctx, src)
	}
	if err == nil && dst != 0 && dstMode.IsDir() {
		err = c.refresh.LoadDir(ctx, dst)
	}
	if err != nil {
		return Change{}, Change{}, wrap("rename", srcName, err)
	}
	var gone Ino
	var from, to Change
	err = c.update(func(t *txn) (err error) {
		gone = 0
		if from.Before, err = attrIn(t, srcDir); err != nil {
			return err
		}
		if to.Before, err = attrIn(t, dstDir); err != nil {
			return err
		}
		if err := t.rename(srcDir, srcName, dstDir, dstName, &gone); err != nil {
			return err
		}
		if from.After, err = attrIn(t, srcDir); err != nil {
			return err
		}
		to.After, err = attrIn(t, dstDir)
		return err
	})
	c.forget(gone)
	if err != nil {
		return Change{}, Change{}, wrap("rename", srcName, err)
	}
	return from, to, nil
}

func (t *txn) rename(srcDir Ino, srcName string, dstDir Ino, dstName string, gone *Ino) error {
	sd, err := t.GetDir(srcDir)
	if err != nil {
		return err
	}
	dd := sd
	if dstDir != srcDir {
		if dd, err = t.GetDir(dstDir); err != nil {
			return err
		}
	}
	src, _, err := t.Lookup(srcDir, srcName)
	if err != nil {
		return err
	}
	n, err := t.get(src)
	if err != nil {
		return err
	}
	dst, _, err := t.Lookup(dstDir, dstName)
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		return err
	}
	if dst == src {
		return nil // both names are one file: rename(2) does nothing
	}
	if n.Mode.IsDir() {
		// The destination must not lie inside the directory moved.
		for p := dstDir; ; {
			if p == src {
				return syscall.EINVAL
			}
			if p == RootIno {
				break
			}
			pn, err := t.get(p)
			if err != nil {
				return err
			}
			p = pn.Parent
		}
	}
	if err := t.checkKeyRoom(dstDir, dstName, n.Mode.IsDir()); err != nil {
		return err
	}
	now := time.Now().UnixNano()
	if dst != 0 {
		dn, err := t.get(dst)
		if err != nil {
			return err
		}
		switch {
		case n.Mode.IsDir() && !dn.Mode.IsDir():
			return syscall.ENOTDIR
		case !n.Mode.IsDir() && dn.Mode.IsDir():
			return syscall.EISDIR
		case dn.Mode.IsDir() && !t.Empty(dst):
			return syscall.ENOTEMPTY
		}
		if *gone, err = t.dropName(dd, dstName, dst); err != nil {
			return err
		}
		// dropName may have rewritten dd (and sd when it is the same).
		if dd, err = t.GetDir(dstDir); err != nil {
			return err
		}
		if sd, err = t.GetDir(srcDir); err != nil {
			return err
		}
	}
	oldKey, err := t.Key(n)
	if err != nil {
		return err
	}
	primary := n.Parent == srcDir && n.Name == srcName
	if err := t.Unlink(srcDir, srcName); err != nil {
		return err
	}
	if n.Nlink > 1 && !n.Mode.IsDir() {
		if err := t.DeleteLink(n.Ino, srcDir, srcName); err != nil {
			return err
		}
		if err := t.PutLink(n.Ino, dstDir, dstName); err != nil {
			return err
		}
	}
	if primary {
		n.Parent, n.Name = dstDir, dstName
	}
	n.Ctime = now
	if err := t.put(n); err != nil {
		return err
	}
	sd.Mtime, sd.Ctime = now, now
	if dstDir != srcDir {
		dd.Mtime, dd.Ctime = now, now
		if n.Mode.IsDir() {
			sd.Nlink--
			dd.Nlink++
		}
		if err := t.put(sd); err != nil {
			return err
		}
	} else {
		dd = sd
	}
	if err := t.Link(dd, dstName, n); err != nil {
		return err
	}
	if !primary || n.Mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice) != 0 {
		return nil
	}
	newKey, err := t.Key(n)
	if err != nil {
		return err
	}
	return t.enqueue(writeback.Op{Kind: writeback.Rename, Ino: n.Ino, Key: oldKey, Key2: newKey})
}
