package cache

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/filegate/filegate/cache/ns"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// usage tracks the bytes of file contents in the cache in least recently
// used order. simplelru orders the entries; the byte bound is ours,
// because the library bounds entry counts only.
type usage struct {
	lru  *simplelru.LRU[Ino, int64]
	used int64
}

func newUsage() usage {
	l, _ := simplelru.NewLRU[Ino, int64](math.MaxInt32, nil)
	return usage{lru: l}
}

// account sets how many bytes ino holds in the cache and marks it used.
func (c *Cache) account(ino Ino, bytes int64) {
	c.lruMu.Lock()
	old, _ := c.usage.lru.Get(ino)
	c.usage.lru.Add(ino, bytes)
	c.usage.used += bytes - old
	over := c.usage.used > c.highBytes()
	c.lruMu.Unlock()
	if over {
		c.kickEvict()
	}
}

// touch marks ino used without changing its size.
func (c *Cache) touch(ino Ino) {
	c.lruMu.Lock()
	c.usage.lru.Get(ino)
	c.lruMu.Unlock()
}

func (c *Cache) unaccount(ino Ino) {
	c.lruMu.Lock()
	if old, ok := c.usage.lru.Peek(ino); ok {
		c.usage.used -= old
		c.usage.lru.Remove(ino)
	}
	c.lruMu.Unlock()
}

// UsedBytes is how much file content the cache holds.
func (c *Cache) UsedBytes() int64 {
	c.lruMu.Lock()
	defer c.lruMu.Unlock()
	return c.usage.used
}

func (c *Cache) highBytes() int64 { return c.highMark.Load() }
func (c *Cache) lowBytes() int64  { return c.lowMark.Load() }

// setMarks sets the size and the watermarks in bytes; they change while
// running, so they live in atomics rather than in cfg.
func (c *Cache) setMarks(maxBytes int64, high, low float64) {
	c.maxBytes.Store(maxBytes)
	c.highMark.Store(int64(float64(maxBytes) * high))
	c.lowMark.Store(int64(float64(maxBytes) * low))
}

func (c *Cache) kickEvict() {
	select {
	case c.evictKick <- struct{}{}:
	default:
	}
}

// runEvictor keeps the cache under its high watermark, in the
// background and never inside a client request: past the high mark it
// evicts least recently used clean files down to the low mark.
func (c *Cache) runEvictor(ctx context.Context) {
	c.every(ctx, 2*time.Second, c.evictKick, func() {
		if c.UsedBytes() > c.highBytes() {
			c.guard("evict", func() { c.evictTo(c.lowBytes()) })
		}
	})
}

// evictTo evicts clean, unused files, oldest first, until at most target
// bytes are used or nothing more can go. Dirty files are never evicted.
func (c *Cache) evictTo(target int64) {
	c.lruMu.Lock()
	n := c.usage.lru.Len()
	c.lruMu.Unlock()
	for i := 0; i < n && c.UsedBytes() > target; i++ {
		c.lruMu.Lock()
		ino, _, ok := c.usage.lru.GetOldest()
		if ok {
			// Move it to the front, so a file that cannot go now (dirty,
			// pinned, in use) does not block the ones behind it.
			c.usage.lru.Get(ino)
		}
		c.lruMu.Unlock()
		if !ok {
			return
		}
		if c.dirty.Is(ino) {
			continue
		}
		if err := c.evict(ino); err != nil {
			c.log.Warn("evict", "op", "evict", "err", err)
		}
	}
}

// evict drops the local content of a clean file nobody is using.
func (c *Cache) evict(ino Ino) error {
	if _, unstable := c.pendingOf(ino); unstable {
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
	c.dropFresh(ino)
	c.unaccount(ino)
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
	c.setMarks(maxBytes, high, low)
	c.kickEvict()
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
