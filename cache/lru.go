package cache

import (
	"fmt"

	"github.com/filegate/filegate/cache/ns"
)

// evictTo evicts clean, unused files, oldest first, until at most target
// bytes are used or nothing more can go. Dirty files are never evicted.
func (c *Cache) evictTo(target int64) {
	c.lru.EvictTo(target, func(ino Ino) {
		if c.dirty.Is(ino) {
			return
		}
		if err := c.evict(ino); err != nil {
			c.log.Warn("evict", "op", "evict", "err", err)
		}
	})
}

// UsedBytes is how much file content the cache holds.
func (c *Cache) UsedBytes() int64 { return c.lru.Used() }

// evict drops the local content of a clean file nobody is using.
func (c *Cache) evict(ino Ino) error {
	if _, unstable := c.unstable.of(ino); unstable {
		return nil // uncommitted writes: never dropped
	}
	if !c.files.BeginEvict(ino) {
		return nil // in use: try again later
	}
	defer c.files.EndEvict(ino)
	end := c.beginDrop(ino)
	evicted := false
	defer func() { end(evicted) }()
	err := c.update(func(t *txn) error {
		evicted = false
		n, err := t.get(ino)
		if err != nil || n.Has(ns.FlagDirty) || !n.Has(ns.FlagRemote) || n.Has(ns.FlagPinned) {
			return nil // gone, holds the only copy, or pinned
		}
		n.Flags &^= ns.FlagLocal
		if err := t.putChunks(ino, nil); err != nil {
			return err
		}
		evicted = true
		return t.put(n)
	})
	if err != nil || !evicted {
		return err
	}
	c.fresh.Drop(ino)
	c.lru.Unaccount(ino)
	c.stats.evictions.Add(1)
	return c.files.Remove(ino)
}

// SetSize changes the cache size and watermarks while running (a config
// reload); a smaller size starts eviction at once.
func (c *Cache) SetSize(maxBytes int64, high, low float64) error {
	next := c.cfg
	next.MaxBytes, next.HighWater, next.LowWater = maxBytes, high, low
	if err := next.Validate(); err != nil {
		return err
	}
	c.lru.SetMarks(maxBytes, high, low)
	c.lru.Kick()
	return nil
}

// SetDirtyLimit changes the dirty limit while running; 0 means none.
func (c *Cache) SetDirtyLimit(bytes int64) error {
	if bytes < 0 {
		return fmt.Errorf("cache: dirty limit %d is negative", bytes)
	}
	c.dirty.SetLimit(bytes)
	return nil
}
