package ns

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// queueLen waits until n updates wait behind the running round.
func queueLen(d *DB, n int) {
	for {
		d.commitMu.Lock()
		got := len(d.commitQueue)
		d.commitMu.Unlock()
		if got >= n {
			return
		}
		runtime.Gosched()
	}
}

// TestGroupCommit queues updates behind a running one: they commit
// together in the next transaction, one failing update is rolled back
// alone, and a panicking one panics in its own caller only.
func TestGroupCommit(t *testing.T) {
	d := openTest(t, t.TempDir())

	entered, release := make(chan struct{}), make(chan struct{})
	leaderDone := make(chan error, 1)
	var leaderTx *recorder
	go func() {
		first := true
		leaderDone <- d.Update(func(t *Tx) error {
			if first {
				first = false
				close(entered)
				<-release // holds this round until the others queue up
			}
			leaderTx = t.Meta.rec // one recorder per round
			return t.Meta.Put([]byte("leader"), []byte("x"))
		})
	}()
	<-entered

	const writers = 6
	errs := make([]error, writers)
	txs := make([]*recorder, writers)
	var panicked any
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == writers-1 {
				defer func() { panicked = recover() }()
			}
			errs[i] = d.Update(func(t *Tx) error {
				txs[i] = t.Meta.rec
				key := []byte(fmt.Sprintf("k%d", i))
				if err := t.Meta.Put(key, []byte("v")); err != nil {
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
	queueLen(d, writers)
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
	// The four that succeeded were made durable in one round, after the
	// leader's; the failed and the panicking ones were undone.
	for _, i := range []int{0, 1, 3, 4} {
		if txs[i] != txs[0] || txs[i] == leaderTx {
			t.Errorf("rounds: leader %p, updates %v: want the four successful ones in one after it", leaderTx, txs)
			break
		}
	}
	err := d.View(func(tx *Tx) error {
		for i := range writers {
			got := tx.Meta.Get([]byte(fmt.Sprintf("k%d", i)))
			if want := i != 2 && i != writers-1; (got != nil) != want {
				t.Errorf("k%d stored: %v, want %v", i, got != nil, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
