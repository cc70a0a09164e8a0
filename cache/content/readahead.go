package content

import "sync"

// maxReaders bounds the files whose last read ReadAhead remembers; past
// it, it forgets them all and starts over.
const maxReaders = 4096

// ReadAhead spots sequential readers, which the cache reads ahead of,
// and bounds the read-aheads running at once. Its mutex is a leaf.
type ReadAhead struct {
	mu sync.Mutex
	// next is where each file's last read ended.
	next map[Ino]int64

	slots chan struct{}
}

// NewReadAhead returns a ReadAhead that lets at most running
// read-aheads run at once.
func NewReadAhead(running int) *ReadAhead {
	return &ReadAhead{next: map[Ino]int64{}, slots: make(chan struct{}, running)}
}

// Note records a read of [off, end) of ino and reports whether it
// continued the previous one, which makes the reader sequential.
func (r *ReadAhead) Note(ino Ino, off, end int64) (sequential bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	prev, ok := r.next[ino]
	if len(r.next) > maxReaders {
		clear(r.next)
	}
	r.next[ino] = end
	return ok && prev == off
}

// Forget forgets ino's reads, when its content goes.
func (r *ReadAhead) Forget(ino Ino) {
	r.mu.Lock()
	delete(r.next, ino)
	r.mu.Unlock()
}

// TryStart takes a slot for a read-ahead, or reports that enough are
// running already. Done gives it back.
func (r *ReadAhead) TryStart() bool {
	select {
	case r.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// Done ends a read-ahead started by TryStart.
func (r *ReadAhead) Done() { <-r.slots }
