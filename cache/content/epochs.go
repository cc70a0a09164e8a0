package content

import "sync"

// Epochs answers "was ino's local content dropped since I looked?"
// for each inode exactly, with no stripe shared by other inodes: a false
// answer would make a write start over, and three in a row fail it. An
// inode has an entry only while it is watched or being dropped; its epoch
// need not outlive that, since only a watcher compares it. Its mutex is
// a leaf: nothing else is locked while it is held. Watch waits for the
// drops in progress, so it is never called under the data lock or within
// a drop of the same inode.
type Epochs struct {
	mu sync.Mutex
	// settled is broadcast when the last drop in progress of an inode
	// ends.
	settled *sync.Cond
	m       map[Ino]epochState
}

type epochState struct {
	watchers int    // Watch calls not yet ended by Unwatch
	dropping int    // drops in progress
	epoch    uint64 // drops done while watched
}

// NewEpochs returns Epochs with no inode watched.
func NewEpochs() *Epochs {
	e := &Epochs{m: map[Ino]epochState{}}
	e.settled = sync.NewCond(&e.mu)
	return e
}

// Watch starts watching ino's content and returns its epoch for
// DroppedSince, once no drop of it is in progress: whatever the caller
// then looks at is after every drop begun before. The caller must call
// Unwatch when it has used what it looked at.
func (e *Epochs) Watch(ino Ino) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.watchers++
	e.m[ino] = s
	for s.dropping > 0 {
		e.settled.Wait()
		s = e.m[ino]
	}
	return s.epoch
}

// Unwatch ends a Watch.
func (e *Epochs) Unwatch(ino Ino) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.watchers--
	e.putLocked(ino, s)
}

// DroppedSince reports whether a watcher that got epoch from Watch must
// take ino's content for dropped: a drop ended since, or one is in
// progress.
func (e *Epochs) DroppedSince(ino Ino, epoch uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.m[ino]
	return !ok || s.dropping > 0 || s.epoch != epoch
}

// Begin marks a drop of ino's content in progress.
func (e *Epochs) Begin(ino Ino) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.dropping++
	e.m[ino] = s
}

// End ends a drop begun by Begin; dropped tells whether it took the
// content away (a refresh may find the file busy and leave it).
func (e *Epochs) End(ino Ino, dropped bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	if dropped {
		s.epoch++
	}
	if s.dropping--; s.dropping == 0 {
		e.settled.Broadcast()
	}
	e.putLocked(ino, s)
}

func (e *Epochs) putLocked(ino Ino, s epochState) {
	if s.watchers <= 0 && s.dropping <= 0 {
		delete(e.m, ino)
		return
	}
	e.m[ino] = s
}
