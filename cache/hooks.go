package cache

import "sync/atomic"

// hookPoint names a point where tests stop an operation midway, to make
// a race with another operation happen every time.
type hookPoint int

const (
	// hookWritten: WriteAt or a truncate changed the data file and has
	// not yet stored the new size and the dirty mark.
	hookWritten hookPoint = iota
	// hookMadeLocal: WriteAt found the file wholly local and has not yet
	// written the data file.
	hookMadeLocal
	// hookReadLocal: a read found its range local and has not yet read
	// the data file.
	hookReadLocal
	// hookUnstableReady: WriteUnstable found the file ready for an
	// unstable write and has not written yet.
	hookUnstableReady
	// hookNewVersion: a refresh is about to give a file changed in the
	// cloud its new version.
	hookNewVersion
	// hookCleaned: an update that marked ino clean is durable and its
	// effect on the in-memory dirty accounting not yet applied.
	hookCleaned
	// hookFlushSettling: Flush saw nothing left to upload and waits for
	// the accounting of the updates it saw.
	hookFlushSettling
)

// hooks is what a test runs at each hookPoint; nil in production.
type hooks struct {
	fn atomic.Pointer[func(hookPoint, Ino)]
}

// at runs the test hook, if one is set, at point p of an operation on ino.
func (h *hooks) at(p hookPoint, ino Ino) {
	if fn := h.fn.Load(); fn != nil {
		(*fn)(p, ino)
	}
}

// on reports whether a test hook is set, for hook points that would
// cost a loop in production.
func (h *hooks) on() bool { return h.fn.Load() != nil }

// set makes fn the test hook; nil removes it.
func (h *hooks) set(fn func(hookPoint, Ino)) {
	if fn == nil {
		h.fn.Store(nil)
		return
	}
	h.fn.Store(&fn)
}
