package content

import "sync"

// Writers counts the writes in flight per inode: a write (of the client,
// or a truncate) registers from before it looks at the file until its
// size and dirty mark, or its unstable size, are stored. A refresh
// leaves the local content of a file being written alone, as it leaves
// a dirty file's: a write in flight wins over a change noticed in the
// cloud. Its mutex is a leaf, and may be taken inside namespace updates
// and views.
type Writers struct {
	mu sync.Mutex
	n  map[Ino]int
}

// NewWriters returns Writers with no write in flight.
func NewWriters() *Writers { return &Writers{n: map[Ino]int{}} }

// Begin registers a write of ino.
func (w *Writers) Begin(ino Ino) {
	w.mu.Lock()
	w.n[ino]++
	w.mu.Unlock()
}

// End ends a registration of Begin.
func (w *Writers) End(ino Ino) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.n[ino]--; w.n[ino] <= 0 {
		delete(w.n, ino)
	}
}

// Busy reports whether a write of ino is in flight.
func (w *Writers) Busy(ino Ino) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n[ino] > 0
}
