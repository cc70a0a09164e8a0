package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
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

// TestWriteAfterARemoveWritesNothing: a write whose file is removed
// after it found the file local, before it writes the data file, writes
// nothing: a write into the removed data file's place would make a new
// data file for an inode that no longer exists, and leave it there.
func TestWriteAfterARemoveWritesNothing(t *testing.T) {
	ctx := context.Background()
	c, _, ino := raceCache(t)
	onceAt(t, c, hookMadeLocal, ino, func() {
		if _, err := c.Remove(ctx, RootIno, "doc.txt"); err != nil {
			t.Error(err)
		}
	})
	if _, _, err := c.WriteAt(ctx, ino, []byte("OURS"), 0); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("write to a removed file: %v, want ESTALE", err)
	}
	if _, err := os.Stat(c.files.Path(ino)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the removed file's data file: %v, want none", err)
	}
}

// TestReadOverlappingADropReadsAgain: a read whose file takes a new
// version from the cloud after the read found it local, before it reads
// the data file, reads again: it does not serve the zeros of the data
// file made anew in place of the dropped one.
func TestReadOverlappingADropReadsAgain(t *testing.T) {
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	refreshAt(t, c, hookReadLocal, ino)
	buf := make([]byte, len(raceV1))
	got, err := c.ReadAt(context.Background(), ino, buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if s := string(buf[:got]); s != raceV2[:got] {
		t.Fatalf("read %q, want the new version %q", s, raceV2[:len(buf)])
	}
}
