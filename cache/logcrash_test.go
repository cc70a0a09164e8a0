package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/internal/testutil"
)

// The namespace's own crash tests are in cache/ns; these crash a whole
// cache and check what its operations made durable comes back.

// recoveredDB opens a copy of the namespace database in dir with what
// the log holds applied, as the next start would find it, leaving dir
// untouched.
func recoveredDB(t *testing.T, dir string) *bolt.DB {
	t.Helper()
	db := testutil.CopyBolt(t, filepath.Join(dir, "namespace.db"), false)
	if _, err := os.Stat(filepath.Join(dir, "namespace.log")); errors.Is(err, os.ErrNotExist) {
		return db
	}
	err := db.Update(func(tx *bolt.Tx) error {
		return ns.ApplyLog(tx, filepath.Join(dir, "namespace.log"))
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// holdCheckpoints keeps updates in the log for the test's caches.
func holdCheckpoints(t *testing.T) {
	old := checkpointEvery
	checkpointEvery = time.Hour
	t.Cleanup(func() { checkpointEvery = old })
}

// newLogCache is a cache whose updates stay in the log until the test
// checkpoints, and that uploads nothing meanwhile.
func newLogCache(t *testing.T, dir string, s backend.Store) *Cache {
	holdCheckpoints(t)
	return newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
}

// rawHas reports whether the database file in dir alone, without its
// log, has name in the root folder.
func rawHas(t *testing.T, dir, name string) bool {
	t.Helper()
	db := testutil.CopyBolt(t, filepath.Join(dir, "namespace.db"), true)
	found := false
	err := db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket([]byte("dirents")).Get(ns.DirentKey(RootIno, name)) != nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func has(t *testing.T, c *Cache, name string) bool {
	t.Helper()
	_, err := c.Lookup(context.Background(), RootIno, name)
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		t.Fatal(err)
	}
	return err == nil
}

// TestLogRecoversUpdatesAfterACrash: updates acknowledged but never
// committed to the database come back from the log after a crash:
// creates, writes, renames, removes and attribute changes.
func TestLogRecoversUpdatesAfterACrash(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	ctx := context.Background()
	a := mustCreate(t, c, RootIno, "a")
	mustWrite(t, c, a.Ino, 0, "hello")
	commitUnstable(t, c, mustCreate(t, c, RootIno, "small").Ino, "inline content")
	d := mustMkdir(t, c, RootIno, "d")
	mustCreate(t, c, d.Ino, "x")
	if _, _, err := c.Rename(ctx, d.Ino, "x", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, RootIno, "gone")
	if _, err := c.Remove(ctx, RootIno, "gone"); err != nil {
		t.Fatal(err)
	}
	mode := fs.FileMode(0o600)
	if _, err := c.SetAttr(ctx, a.Ino, SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if st, used := c.ns.Stats(), c.ns.LogBytes(); st.Appends == 0 || used == 0 || st.Checkpoints != 0 {
		t.Fatalf("appends %d, log %d bytes, checkpoints %d: want the updates in the log only",
			st.Appends, used, st.Checkpoints)
	}
	crash(c)
	if rawHas(t, dir, "a") {
		t.Fatal("the database alone has the update: the test proves nothing")
	}

	c2 := newLogCache(t, dir, s)
	for name, want := range map[string]bool{"a": true, "small": true, "d": true, "moved": true, "gone": false} {
		if got := has(t, c2, name); got != want {
			t.Errorf("after the crash, %s present: %v, want %v", name, got, want)
		}
	}
	if got := readAll(t, c2, a.Ino); got != "hello" {
		t.Errorf("a reads %q", got)
	}
	small, err := c2.Lookup(ctx, RootIno, "small")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c2, small.Ino); got != "inline content" {
		t.Errorf("small reads %q", got)
	}
	if got, err := c2.GetAttr(ctx, a.Ino); err != nil || got.Mode.Perm() != 0o600 {
		t.Errorf("a's mode %v, %v", got.Mode, err)
	}
	if _, err := c2.Lookup(ctx, d.Ino, "x"); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("d/x after the rename: %v", err)
	}
	// The start committed what it applied.
	if !rawHas(t, dir, "moved") {
		t.Error("the start did not commit the updates it took from the log")
	}
}

// TestLogConcurrentCrash: many clients create and commit small files at
// once (their updates share rounds) while the namespace is abandoned as
// a crash would; after the restart every create and commit that
// returned success is there with its content.
func TestLogConcurrentCrash(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	ctx := context.Background()
	type acked struct {
		name, data string
	}
	var mu sync.Mutex
	var done []acked
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name, data := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("content of %d/%d", w, i)
				f, _, err := c.Create(ctx, RootIno, name, NewAttr{Mode: 0o644})
				if err != nil {
					return // the crash came
				}
				if _, _, err := c.WriteUnstable(ctx, f.Ino, []byte(data), 0); err != nil {
					return
				}
				if _, err := c.Commit(ctx, f.Ino); err != nil {
					return
				}
				mu.Lock()
				done = append(done, acked{name, data})
				n := len(done)
				mu.Unlock()
				if n == 300 {
					close(stop)
				}
			}
		}()
	}
	<-stop
	crash(c)
	wg.Wait()
	if len(done) < 300 {
		t.Fatalf("%d files acknowledged", len(done))
	}
	c2 := newLogCache(t, dir, s)
	for _, a := range done {
		f, err := c2.Lookup(ctx, RootIno, a.name)
		if err != nil {
			t.Fatalf("%s, acknowledged before the crash: %v", a.name, err)
		}
		if got := readAll(t, c2, f.Ino); got != a.data {
			t.Fatalf("%s reads %q, want %q", a.name, got, a.data)
		}
	}
}
