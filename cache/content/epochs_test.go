package content

import (
	"testing"
	"time"
)

// TestContentEpochs: a watcher is told of a drop that ended or is in
// progress since it looked, and of no other: not of a drop that left the
// content alone, nor of another inode's.
func TestContentEpochs(t *testing.T) {
	e := NewEpochs()
	const ino, other = Ino(7), Ino(7 + 256)
	epoch := e.Watch(ino)
	if e.DroppedSince(ino, epoch) {
		t.Fatal("dropped before any drop")
	}
	e.Begin(other)
	e.End(other, true)
	if e.DroppedSince(ino, epoch) {
		t.Fatal("another inode's drop counted")
	}
	e.Begin(ino)
	if !e.DroppedSince(ino, epoch) {
		t.Fatal("a drop in progress did not count")
	}
	e.End(ino, false)
	if e.DroppedSince(ino, epoch) {
		t.Fatal("a drop that left the content alone counted")
	}
	e.Begin(ino)
	e.End(ino, true)
	if !e.DroppedSince(ino, epoch) {
		t.Fatal("a drop did not count")
	}
	e.Unwatch(ino)
	if len(e.m) != 0 {
		t.Fatalf("entries left with no watcher and no drop: %v", e.m)
	}
}

// TestWatchWaitsForADropInProgress: watch returns only once the drop in
// progress ended, with an epoch that drop does not change: what the
// watcher looks at then is after the drop.
func TestWatchWaitsForADropInProgress(t *testing.T) {
	e := NewEpochs()
	const ino = Ino(3)
	e.Begin(ino)
	got := make(chan uint64)
	go func() { got <- e.Watch(ino) }()
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
	e.End(ino, true)
	epoch := <-got
	if e.DroppedSince(ino, epoch) {
		t.Fatal("the drop that ended before watch returned counted")
	}
	e.Unwatch(ino)
	if len(e.m) != 0 {
		t.Fatalf("entries left with no watcher and no drop: %v", e.m)
	}
}
