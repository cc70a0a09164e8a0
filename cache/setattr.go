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

// SetAttr changes the attributes selected in set (chmod, chown, utimes,
// truncate) and returns the attributes before and after. A size change
// needs the whole file in the cache, so it may download it first.
func (c *Cache) SetAttr(ctx context.Context, ino Ino, set SetAttr) (Change, error) {
	if set.Size == nil {
		return c.setAttr(ctx, ino, set, 0)
	}
	// The truncate syncs the data file, so the transaction below drops
	// the inode's inline record (see inline.go): no Commit may write one
	// in between.
	mu := c.syncMu.of(ino)
	mu.Lock()
	defer mu.Unlock()
	// Pinned until the size is stored: eviction would drop the
	// truncated content of a file not yet dirty.
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	var ch Change
	err := c.retryWrite(ino, func(epoch uint64) (err error) {
		ch, err = c.setAttr(ctx, ino, set, epoch)
		return err
	})
	return ch, err
}

// setAttr is one attempt of SetAttr; a size change is a write that
// watched ino's content at epoch. Before is read in the transaction that stores
// the new attributes: a truncate changes the data file first, but no
// attribute until then.
func (c *Cache) setAttr(ctx context.Context, ino Ino, set SetAttr, epoch uint64) (Change, error) {
	// Unstable writes come first: a truncate or utimes after them wins.
	if err := c.storePending(ino, nil); err != nil {
		return Change{}, wrap("setattr", "", err)
	}
	if set.Size != nil {
		if *set.Size < 0 {
			return Change{}, fmt.Errorf("cache: setattr size %d: %w", *set.Size, syscall.EINVAL)
		}
		if err := c.truncate(ctx, ino, *set.Size, epoch); err != nil {
			return Change{}, wrap("setattr", "", err)
		}
		c.hooks.at(hookWritten, ino)
	}
	var ch Change
	err := c.update(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		ch.Before = attrOf(n)
		now := time.Now().UnixNano()
		metaChanged := false
		if set.Mode != nil {
			n.Mode = n.Mode.Type() | *set.Mode&ns.PermBits
			metaChanged = true
		}
		if set.UID != nil {
			n.UID, metaChanged = *set.UID, true
		}
		if set.GID != nil {
			n.GID, metaChanged = *set.GID, true
		}
		if set.Atime != nil {
			n.Atime = set.Atime.UnixNano()
		}
		if set.Mtime != nil {
			n.Mtime, metaChanged = set.Mtime.UnixNano(), true
		}
		if set.Size != nil {
			if n.Mode.IsRegular() && !n.Has(ns.FlagLocal) {
				// Dropped after the truncate: never a dirty file
				// without its content.
				return errContentDropped
			}
			n.Size = *set.Size
			if set.Mtime == nil {
				n.Mtime = now
			}
			n.Version++
			if err := t.setDirty(n); err != nil {
				return err
			}
			if err := t.dropInline(ino); err != nil {
				return err
			}
		}
		n.Ctime = now
		if err := t.put(n); err != nil {
			return err
		}
		ch.After = attrOf(n)
		if !metaChanged || n.Has(ns.FlagDirty) || n.Mode&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice) != 0 {
			// A pending upload carries the new metadata.
			return nil
		}
		key, err := t.Key(n)
		if err != nil {
			return err
		}
		if n.Ino == RootIno {
			return nil // the store's root has no object of its own
		}
		return t.enqueue(writeback.Op{Kind: writeback.SetMeta, Ino: n.Ino, Key: key})
	})
	if err != nil {
		return Change{}, wrap("setattr", "", err)
	}
	if set.Size != nil {
		c.wb.Touched(ino)
	}
	return ch, nil
}

// truncate sets the length of a regular file's local data. Shrinking or
// growing needs the whole file local (the backend takes whole objects),
// except a truncate to zero, which needs nothing.
func (c *Cache) truncate(ctx context.Context, ino Ino, size int64, epoch uint64) error {
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	a, err := c.GetAttr(ctx, ino)
	if err != nil {
		return err
	}
	switch {
	case a.Mode.IsDir():
		return syscall.EISDIR
	case !a.Mode.IsRegular():
		return syscall.EINVAL
	}
	if err := c.dirty.Admit(ino, size); err != nil {
		return err
	}
	if size > 0 {
		if err := c.makeLocal(ctx, ino); err != nil {
			return err
		}
	}
	mu := c.files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	if c.epochs.DroppedSince(ino, epoch) {
		return errContentDropped
	}
	if size == 0 {
		if err := c.markLocal(ino); err != nil {
			return err
		}
	}
	of, err := c.files.Acquire(ino, true)
	if err != nil {
		return err
	}
	defer c.files.Release(of)
	if err := of.File.Truncate(size); err != nil {
		return err
	}
	// SETATTR has no COMMIT after it: make the new length durable now.
	c.stats.fsyncs.Add(1)
	if err := c.files.SyncOpen(ino, of); err != nil {
		return err
	}
	c.lru.Account(ino, size)
	return nil
}
