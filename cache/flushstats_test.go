package cache

import (
	"context"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
)

// TestFlushWaitsForAccounting checks that Stats agrees with a Flush that
// returned: the uploader's update that marks a file clean is visible to
// Flush's check before its caller has applied it to the in-memory
// counters Stats reads, and Flush must not return in between.
func TestFlushWaitsForAccounting(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), memstore.New())
	f := mustCreate(t, c, RootIno, "a.txt")
	mustWrite(t, c, f.Ino, 0, "hello")

	held := make(chan struct{})
	release := make(chan struct{})
	settling := make(chan struct{}, 1)
	c.hooks.set(func(p hookPoint, ino Ino) {
		switch {
		case p == hookCleaned && ino == f.Ino:
			close(held)
			<-release
		case p == hookFlushSettling:
			select {
			case settling <- struct{}{}:
			default:
			}
		}
	})
	defer c.hooks.set(nil)
	done := make(chan error, 1)
	go func() { done <- c.Flush(ctx) }()
	<-held
	select {
	case err := <-done:
		// Flush returned while the clean mark's accounting was held.
		close(release)
		if err != nil {
			t.Fatal(err)
		}
		t.Fatalf("Flush returned before the upload's accounting: %+v", c.Stats())
	case <-settling:
		close(release)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.DirtyFiles != 0 || st.JournalOps != 0 {
		t.Fatalf("after flush: %+v", st)
	}
}
