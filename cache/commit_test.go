package cache

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
)

// queueLen waits until n updates wait behind the running round.
func queueLen(c *Cache, n int) {
	for {
		c.commitMu.Lock()
		got := len(c.commitQueue)
		c.commitMu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// TestGroupCommit queues updates behind a running one: they commit
// together in the next round, one failing update is rolled back alone,
// and a panicking one panics in its own caller only.
func TestGroupCommit(t *testing.T) {
	c := newTestCache(t, t.TempDir(), memstore.New())
	before := c.Stats().Commits

	release := make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		first := true
		leaderDone <- c.update(func(t *txn) error {
			if first {
				first = false
				<-release // holds the round until the others queue up
			}
			return t.meta.Put([]byte("leader"), []byte("x"))
		})
	}()
	for {
		c.commitMu.Lock()
		running := c.committing
		c.commitMu.Unlock()
		if running {
			break
		}
		runtime.Gosched()
	}

	const writers = 6
	errs := make([]error, writers)
	var panicked any
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == writers-1 {
				defer func() { panicked = recover() }()
			}
			errs[i] = c.update(func(t *txn) error {
				key := []byte(fmt.Sprintf("k%d", i))
				if err := t.meta.Put(key, []byte("v")); err != nil {
					return err
				}
				switch i {
				case 2:
					return syscall.EEXIST // after writing: must be rolled back
				case writers - 1:
					panic("boom")
				}
				return nil
			})
		}()
	}
	queueLen(c, writers)
	close(release)
	wg.Wait()
	if err := <-leaderDone; err != nil {
		t.Fatal(err)
	}

	for i, err := range errs {
		switch {
		case i == 2 && !errors.Is(err, syscall.EEXIST):
			t.Errorf("update %d: %v, want EEXIST", i, err)
		case i != 2 && i != writers-1 && err != nil:
			t.Errorf("update %d: %v", i, err)
		}
	}
	if s, _ := panicked.(string); !strings.Contains(s, "boom") {
		t.Errorf("panic in the caller: %v", panicked)
	}
	err := c.view(func(tx *txn) error {
		for i := range writers {
			got := tx.meta.Get([]byte(fmt.Sprintf("k%d", i)))
			if want := i != 2 && i != writers-1; (got != nil) != want {
				t.Errorf("k%d stored: %v, want %v", i, got != nil, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The leader's round, then one for the six (rolled back twice and
	// committed once).
	if got := c.Stats().Commits - before; got != 2 {
		t.Errorf("%d commits, want 2", got)
	}
}
