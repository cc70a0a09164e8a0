package cache

import (
	"fmt"
	"syscall"
	"time"
)

// applyDirtied updates the in-memory dirty accounting after a commit.
func (c *Cache) applyDirtied(m map[Ino]int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ino, size := range m {
		old, was := c.dirtySizes[ino]
		if size < 0 {
			if was {
				c.dirtyTotal -= old
				delete(c.dirtySizes, ino)
				delete(c.dirtySince, ino)
			}
			continue
		}
		if !was {
			c.dirtySince[ino] = time.Now()
		}
		c.dirtyTotal += size - old
		c.dirtySizes[ino] = size
	}
}

func (c *Cache) isDirty(ino Ino) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.dirtySizes[ino]
	return ok
}

// DirtyBytes is the total size of files with changes not yet uploaded.
func (c *Cache) DirtyBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dirtyTotal
}

// admitDirty refuses a change that would take the dirty total past the
// limit: dirty data can only leave the cache by upload, so past the
// limit (a long cloud outage) writers get ENOSPC rather than fill the
// disk. Shrinking a dirty file is always allowed, and so is any write
// when no other file is dirty, so a file bigger than the limit can still
// be written (the cache disk then bounds it).
func (c *Cache) admitDirty(ino Ino, newSize int64) error {
	limit := c.dirtyLimit.Load()
	if limit <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.dirtySizes[ino]
	others := c.dirtyTotal - cur
	if newSize <= cur || others == 0 || others+newSize <= limit {
		return nil
	}
	c.stats.dirtyRefusals.Add(1)
	return fmt.Errorf("cache: %d bytes await upload, limit %d: %w", c.dirtyTotal, limit, syscall.ENOSPC)
}
