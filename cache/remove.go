package cache

import (
	"context"
	"io/fs"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/writeback"
)

// Remove unlinks the non-directory name from dir and returns the change
// to dir. EISDIR for a directory, ENOENT when missing.
func (c *Cache) Remove(ctx context.Context, dir Ino, name string) (Change, error) {
	if err := ns.CheckName(name); err != nil {
		return Change{}, err
	}
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return Change{}, err
	}
	var gone Ino
	var dc Change
	err := c.update(func(t *txn) error {
		d, err := t.GetDir(dir)
		if err != nil {
			return err
		}
		dc.Before = attrOf(d)
		child, mode, err := t.Lookup(dir, name)
		if err != nil {
			return err
		}
		if mode.IsDir() {
			return syscall.EISDIR
		}
		now := time.Now().UnixNano()
		d.Mtime, d.Ctime = now, now
		if err := t.put(d); err != nil {
			return err
		}
		gone, err = t.dropName(d, name, child)
		dc.After = attrOf(d)
		return err
	})
	c.forget(gone)
	if err != nil {
		return Change{}, wrap("remove", name, err)
	}
	return dc, nil
}

// Rmdir removes the empty directory name from dir and returns the change
// to dir. ENOTEMPTY, ENOTDIR, ENOENT.
func (c *Cache) Rmdir(ctx context.Context, dir Ino, name string) (Change, error) {
	if err := ns.CheckName(name); err != nil {
		return Change{}, err
	}
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return Change{}, err
	}
	var child Ino
	err := c.view(func(t *txn) (err error) {
		var mode fs.FileMode
		child, mode, err = t.Lookup(dir, name)
		if err == nil && !mode.IsDir() {
			err = syscall.ENOTDIR
		}
		return err
	})
	if err == nil {
		// Emptiness counts what the backend holds too.
		err = c.refresh.LoadDir(ctx, child)
	}
	if err != nil {
		return Change{}, wrap("rmdir", name, err)
	}
	var dc Change
	err = c.update(func(t *txn) error {
		d, err := t.GetDir(dir)
		if err != nil {
			return err
		}
		dc.Before = attrOf(d)
		got, mode, err := t.Lookup(dir, name)
		if err != nil {
			return err
		}
		if got != child || !mode.IsDir() {
			return syscall.ENOTDIR
		}
		if !t.Empty(child) {
			return syscall.ENOTEMPTY
		}
		now := time.Now().UnixNano()
		d.Mtime, d.Ctime = now, now
		if err := t.put(d); err != nil {
			return err
		}
		_, err = t.dropName(d, name, child)
		dc.After = attrOf(d)
		return err
	})
	if err != nil {
		return Change{}, wrap("rmdir", name, err)
	}
	return dc, nil
}

// dropName removes the entry name -> child from d (already written by
// the caller) and, with the inode's last name, the inode itself, queueing
// the backend changes. It returns the inode number when the inode is
// gone, so its local data can be deleted after commit.
func (t *txn) dropName(d *ns.Inode, name string, child Ino) (Ino, error) {
	n, err := t.get(child)
	if err != nil {
		return 0, err
	}
	if err := t.Unlink(d.Ino, name); err != nil {
		return 0, err
	}
	now := time.Now().UnixNano()
	if n.Mode.IsDir() {
		// d was written by the caller; bump its link count for "..".
		d.Nlink--
		if err := t.put(d); err != nil {
			return 0, err
		}
		key, err := t.Key(n)
		if err != nil {
			return 0, err
		}
		if err := t.enqueue(writeback.Op{Kind: writeback.Delete, Key: key}); err != nil {
			return 0, err
		}
		return n.Ino, t.delete(n.Ino)
	}
	if n.Nlink > 1 {
		return 0, t.dropLink(n, d.Ino, name, now)
	}
	key, err := t.Key(n)
	if err != nil {
		return 0, err
	}
	if n.Mode.IsRegular() || n.Mode&fs.ModeSymlink != 0 {
		if err := t.enqueue(writeback.Op{Kind: writeback.Delete, Key: key}); err != nil {
			return 0, err
		}
	}
	if err := t.clearDirty(n); err != nil {
		return 0, err
	}
	return n.Ino, t.delete(n.Ino)
}

// dropLink removes one of several names of n. When it was the primary
// name, another name becomes primary and the backend object follows.
func (t *txn) dropLink(n *ns.Inode, dir Ino, name string, now int64) error {
	if err := t.DeleteLink(n.Ino, dir, name); err != nil {
		return err
	}
	n.Nlink--
	n.Ctime = now
	if n.Parent == dir && n.Name == name {
		oldKey, err := t.Key(n)
		if err != nil {
			return err
		}
		parent, first, ok := t.FirstLink(n.Ino)
		if !ok {
			return syscall.EIO
		}
		n.Parent, n.Name = parent, first
		// t.Key reads the stored record: store the new primary first.
		if err := t.put(n); err != nil {
			return err
		}
		newKey, err := t.Key(n)
		if err != nil {
			return err
		}
		if err := t.enqueue(writeback.Op{Kind: writeback.Rename, Ino: n.Ino, Key: oldKey, Key2: newKey}); err != nil {
			return err
		}
	}
	if n.Nlink == 1 {
		if err := t.DeleteLink(n.Ino, n.Parent, n.Name); err != nil {
			return err
		}
	}
	return t.put(n)
}

// forget drops what the cache keeps in memory and on disk of ino's
// content: the inode was removed, or its content is stale.
func (c *Cache) forget(ino Ino) {
	if ino == 0 {
		return
	}
	defer c.beginDrop(ino)(true)
	c.wb.Forget(ino)
	c.readAheads.Forget(ino)
	c.lru.Unaccount(ino)
	c.fresh.Drop(ino)
	c.unstable.forget(ino)
	if err := c.files.Remove(ino); err != nil {
		c.log.Warn("remove data file", "op", "remove", "err", err)
	}
}
