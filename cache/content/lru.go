package content

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// LRU tracks the bytes of file contents in the cache in least recently
// used order, and the size the cache must stay under. simplelru orders
// the entries; the byte bound is ours, because the library bounds entry
// counts only. What may be evicted, and how, is the caller's: EvictTo
// walks the files oldest first and hands each to it.
type LRU struct {
	mu   sync.Mutex
	lru  *simplelru.LRU[Ino, int64]
	used int64

	// maxBytes, highMark and lowMark change on a config reload, so they
	// are atomics rather than under mu.
	maxBytes, highMark, lowMark atomic.Int64
	// kick asks the evictor to run now.
	kick chan struct{}
}

// NewLRU returns an empty LRU of maxBytes, to be evicted from the high
// to the low watermark (fractions of maxBytes).
func NewLRU(maxBytes int64, high, low float64) *LRU {
	l, _ := simplelru.NewLRU[Ino, int64](math.MaxInt32, nil)
	u := &LRU{lru: l, kick: make(chan struct{}, 1)}
	u.SetMarks(maxBytes, high, low)
	return u
}

// Account sets how many bytes ino holds in the cache and marks it used;
// past the high watermark it kicks the evictor.
func (u *LRU) Account(ino Ino, bytes int64) {
	u.mu.Lock()
	old, _ := u.lru.Get(ino)
	u.lru.Add(ino, bytes)
	u.used += bytes - old
	over := u.used > u.High()
	u.mu.Unlock()
	if over {
		u.Kick()
	}
}

// Load adds ino's bytes at start, as the newest, without kicking the
// evictor: the caller loads files oldest first.
func (u *LRU) Load(ino Ino, bytes int64) {
	u.mu.Lock()
	u.lru.Add(ino, bytes)
	u.used += bytes
	u.mu.Unlock()
}

// Touch marks ino used without changing its size.
func (u *LRU) Touch(ino Ino) {
	u.mu.Lock()
	u.lru.Get(ino)
	u.mu.Unlock()
}

// Unaccount forgets ino: it holds no content in the cache any more.
func (u *LRU) Unaccount(ino Ino) {
	u.mu.Lock()
	if old, ok := u.lru.Peek(ino); ok {
		u.used -= old
		u.lru.Remove(ino)
	}
	u.mu.Unlock()
}

// Bytes is how many bytes of ino the cache holds.
func (u *LRU) Bytes(ino Ino) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	v, _ := u.lru.Peek(ino)
	return v
}

// Used is how much file content the cache holds.
func (u *LRU) Used() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.used
}

// Max, High and Low are the size and the watermarks, in bytes.
func (u *LRU) Max() int64  { return u.maxBytes.Load() }
func (u *LRU) High() int64 { return u.highMark.Load() }
func (u *LRU) Low() int64  { return u.lowMark.Load() }

// SetMarks sets the size and the watermarks (fractions of maxBytes).
func (u *LRU) SetMarks(maxBytes int64, high, low float64) {
	u.maxBytes.Store(maxBytes)
	u.highMark.Store(int64(float64(maxBytes) * high))
	u.lowMark.Store(int64(float64(maxBytes) * low))
}

// Kick asks the evictor to run now.
func (u *LRU) Kick() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// Kicked receives when the evictor should run.
func (u *LRU) Kicked() <-chan struct{} { return u.kick }

// EvictTo offers files to evict, oldest first, until at most target
// bytes are used or each was offered once. Each moves to the front as it
// is offered, so one that cannot go now (dirty, pinned, in use) does not
// block the ones behind it. evict runs with no lock of u held, and calls
// Unaccount for the files it evicts.
func (u *LRU) EvictTo(target int64, evict func(Ino)) {
	u.mu.Lock()
	n := u.lru.Len()
	u.mu.Unlock()
	for i := 0; i < n && u.Used() > target; i++ {
		u.mu.Lock()
		ino, _, ok := u.lru.GetOldest()
		if ok {
			u.lru.Get(ino)
		}
		u.mu.Unlock()
		if !ok {
			return
		}
		evict(ino)
	}
}
