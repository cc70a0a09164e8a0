package cache

import (
	"testing"
	"time"
)

// TestContentEpochs: a watcher is told of a drop that ended or is in
// progress since it looked, and of no other: not of a drop that left the
// content alone, nor of another inode's.
func TestContentEpochs(t *testing.T) {
	e := newContentEpochs()
	const ino, other = Ino(7), Ino(7 + 256)
	epoch := e.watch(ino)
	if e.droppedSince(ino, epoch) {
		t.Fatal("dropped before any drop")
	}
	e.begin(other)
	e.end(other, true)
	if e.droppedSince(ino, epoch) {
		t.Fatal("another inode's drop counted")
	}
	e.begin(ino)
	if !e.droppedSince(ino, epoch) {
		t.Fatal("a drop in progress did not count")
	}
	e.end(ino, false)
	if e.droppedSince(ino, epoch) {
		t.Fatal("a drop that left the content alone counted")
	}
	e.begin(ino)
	e.end(ino, true)
	if !e.droppedSince(ino, epoch) {
		t.Fatal("a drop did not count")
	}
	e.unwatch(ino)
	if len(e.m) != 0 {
		t.Fatalf("entries left with no watcher and no drop: %v", e.m)
	}
}

// TestWatchWaitsForADropInProgress: watch returns only once the drop in
// progress ended, with an epoch that drop does not change: what the
// watcher looks at then is after the drop.
func TestWatchWaitsForADropInProgress(t *testing.T) {
	e := newContentEpochs()
	const ino = Ino(3)
	e.begin(ino)
	got := make(chan uint64)
	go func() { got <- e.watch(ino) }()
	// Wait until the watcher is registered, hence waiting for the drop.
	for deadline := time.Now().Add(10 * time.Second); ; {
		e.mu.Lock()
		waiting := e.m[ino].watchers == 1
		e.mu.Unlock()
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher never registered")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-got:
		t.Fatal("watch returned during a drop")
	default:
	}
	e.end(ino, true)
	epoch := <-got
	if e.droppedSince(ino, epoch) {
		t.Fatal("the drop that ended before watch returned counted")
	}
	e.unwatch(ino)
	if len(e.m) != 0 {
		t.Fatalf("entries left with no watcher and no drop: %v", e.m)
	}
}
