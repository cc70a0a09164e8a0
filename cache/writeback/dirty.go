package writeback

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// Dirty accounts the files with changes not yet uploaded, in memory: the
// Dirty bucket is the durable list, this is its size and age, kept in
// step by Apply after each commit.
type Dirty struct {
	// limit bounds the dirty total (0: none); refusals counts the
	// changes it refused.
	limit, refusals atomic.Int64

	mu sync.Mutex
	// sizes holds the size of every dirty file; total sums it.
	sizes map[ns.Ino]int64
	total int64
	// since is when each file turned dirty (since this start).
	since map[ns.Ino]time.Time
}

// NewDirty returns an empty account with the given limit in bytes.
func NewDirty(limitBytes int64) *Dirty {
	d := &Dirty{sizes: map[ns.Ino]int64{}, since: map[ns.Ino]time.Time{}}
	d.limit.Store(limitBytes)
	return d
}

// Restore counts a file found dirty at start; its age counts from this
// start.
func (d *Dirty) Restore(ino ns.Ino, size int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, was := d.sizes[ino]; was {
		d.total -= old
	}
	d.sizes[ino] = size
	d.total += size
	d.since[ino] = time.Now()
}

// Apply takes in the dirty state a committed transaction changed.
func (d *Dirty) Apply(ch *Changes) {
	if ch.dirtied == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for ino, size := range ch.dirtied {
		d.setLocked(ino, size)
	}
}

// Note counts ino dirty at size before any transaction says so: an
// unstable write, which holds its size in memory until Commit.
func (d *Dirty) Note(ino ns.Ino, size int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setLocked(ino, size)
}

// setLocked counts ino dirty at size, or clean when size is negative.
func (d *Dirty) setLocked(ino ns.Ino, size int64) {
	old, was := d.sizes[ino]
	if size < 0 {
		if was {
			d.total -= old
			delete(d.sizes, ino)
			delete(d.since, ino)
		}
		return
	}
	if !was {
		d.since[ino] = time.Now()
	}
	d.total += size - old
	d.sizes[ino] = size
}

// Is reports whether ino has changes not yet uploaded.
func (d *Dirty) Is(ino ns.Ino) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.sizes[ino]
	return ok
}

// Bytes is the total size of the dirty files.
func (d *Dirty) Bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// Files counts the dirty files.
func (d *Dirty) Files() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.sizes)
}

// Oldest is when the longest-waiting dirty file turned dirty, zero when
// none is.
func (d *Dirty) Oldest() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	var oldest time.Time
	for _, at := range d.since {
		if oldest.IsZero() || at.Before(oldest) {
			oldest = at
		}
	}
	return oldest
}

// Select returns the dirty files match accepts.
func (d *Dirty) Select(match func(ns.Ino) bool) []ns.Ino {
	d.mu.Lock()
	defer d.mu.Unlock()
	var inos []ns.Ino
	for ino := range d.sizes {
		if match(ino) {
			inos = append(inos, ino)
		}
	}
	return inos
}

// Sum counts the dirty files match accepts and their bytes.
func (d *Dirty) Sum(match func(ns.Ino) bool) (files int, bytes int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for ino, size := range d.sizes {
		if match(ino) {
			files++
			bytes += size
		}
	}
	return files, bytes
}

// Limit is the dirty limit in bytes, 0 when there is none.
func (d *Dirty) Limit() int64 { return d.limit.Load() }

// SetLimit changes the dirty limit; 0 means none.
func (d *Dirty) SetLimit(bytes int64) { d.limit.Store(bytes) }

// Refusals counts the changes Admit refused.
func (d *Dirty) Refusals() int64 { return d.refusals.Load() }

// Admit refuses a change that would take the dirty total past the
// limit: dirty data can only leave the cache by upload, so past the
// limit (a long cloud outage) writers get ENOSPC rather than fill the
// disk. Shrinking a dirty file is always allowed, and so is any write
// when no other file is dirty, so a file bigger than the limit can still
// be written (the cache disk then bounds it).
func (d *Dirty) Admit(ino ns.Ino, newSize int64) error {
	limit := d.limit.Load()
	if limit <= 0 {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.sizes[ino]
	others := d.total - cur
	if newSize <= cur || others == 0 || others+newSize <= limit {
		return nil
	}
	d.refusals.Add(1)
	return fmt.Errorf("cache: %d bytes await upload, limit %d: %w", d.total, limit, syscall.ENOSPC)
}
