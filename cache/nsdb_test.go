package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/ns"
)

// abandon leaves the namespace as a crash would: the open transaction
// is dropped, not committed, and the log closed as it is.
func (s *nsDB) abandon() {
	s.roundMu.Lock() // not in the middle of a round's log write
	defer s.roundMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live != nil {
		s.live.Rollback()
		s.live = nil
	}
	s.log.close()
	s.broken = errors.New("cache: abandoned")
}

// copyDB opens a copy of the namespace database in dir: the file may be
// open (and locked) by a cache.
func copyDB(t *testing.T, dir string, readOnly bool) *bolt.DB {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "namespace.db"))
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "namespace.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cp, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// readLog opens the log in dir for reading only (openLog would write it
// out to its size), closed with the test.
func readLog(t *testing.T, dir string) *nsLog {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "namespace.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	l := &nsLog{f: f, path: f.Name()}
	if err := l.readHeader(); err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	l.capacity = st.Size()
	return l
}

// recoveredDB opens a copy of the namespace database in dir with what
// the log holds applied, as the next start would find it, leaving dir
// untouched.
func recoveredDB(t *testing.T, dir string) *bolt.DB {
	t.Helper()
	db := copyDB(t, dir, false)
	if _, err := os.Stat(filepath.Join(dir, "namespace.log")); errors.Is(err, os.ErrNotExist) {
		return db
	}
	l := readLog(t, dir)
	err := db.Update(func(tx *bolt.Tx) error {
		_, _, err := replayLog(tx, l)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// logState is how many bytes of records the log holds and whether the
// namespace is in direct mode, read as a round would.
func (s *nsDB) logState() (used int64, direct bool) {
	s.roundMu.Lock() // a round syncs the log outside mu
	defer s.roundMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log != nil {
		used = s.log.used()
	}
	return used, s.direct
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
	db := copyDB(t, dir, true)
	found := false
	err := db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketDirents).Get(ns.DirentKey(RootIno, name)) != nil
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
	if err := c.Rename(ctx, d.Ino, "x", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, c, RootIno, "gone")
	if err := c.Remove(ctx, RootIno, "gone"); err != nil {
		t.Fatal(err)
	}
	mode := fs.FileMode(0o600)
	if _, err := c.SetAttr(ctx, a.Ino, SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if used, _ := c.ns.logState(); c.ns.appends.Load() == 0 || used == 0 || c.ns.checkpoints.Load() != 0 {
		t.Fatalf("appends %d, log %d bytes, checkpoints %d: want the updates in the log only",
			c.ns.appends.Load(), used, c.ns.checkpoints.Load())
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

// logRecordOffsets returns where each record of the current epoch of
// the log in dir starts.
func logRecordOffsets(t *testing.T, dir string) []int64 {
	t.Helper()
	l := readLog(t, dir)
	offs := []int64{}
	next := int64(logDataStart)
	err := l.records(func(p []byte) error {
		offs = append(offs, next)
		next += logRecordHead + int64(len(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return offs
}

// TestLogTornRecord: a record cut short by a crash (its checksum does
// not match) ends the replay: what came before it is applied, it and
// nothing after it.
func TestLogTornRecord(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	mustCreate(t, c, RootIno, "kept")
	mustCreate(t, c, RootIno, "torn")
	crash(c)
	offs := logRecordOffsets(t, dir)
	if len(offs) < 2 {
		t.Fatalf("%d records", len(offs))
	}
	f, err := os.OpenFile(filepath.Join(dir, "namespace.log"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := offs[len(offs)-1]
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, last+logRecordHead+1); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, last+logRecordHead+1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	c2 := newLogCache(t, dir, s)
	if !has(t, c2, "kept") || has(t, c2, "torn") {
		t.Fatalf("kept %v, torn %v: want the update before the torn record only", has(t, c2, "kept"), has(t, c2, "torn"))
	}
	// A new record after the torn one is written where it was, and read
	// back after another crash.
	mustCreate(t, c2, RootIno, "after")
	crash(c2)
	c3 := newLogCache(t, dir, s)
	if !has(t, c3, "kept") || !has(t, c3, "after") || has(t, c3, "torn") {
		t.Fatal("after a second crash: the log lost or invented updates")
	}
}

// TestLogOfAnotherDatabase: a log is applied only to the database it
// was made for, so a database moved away (to rebuild the namespace) is
// not filled with another's updates.
func TestLogOfAnotherDatabase(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	c := newLogCache(t, dirA, memstore.New())
	mustCreate(t, c, RootIno, "from-a")
	crash(c)
	b := newLogCache(t, dirB, memstore.New())
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	logA, err := os.ReadFile(filepath.Join(dirA, "namespace.log"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, "namespace.log"), logA, 0o600); err != nil {
		t.Fatal(err)
	}
	b2 := newLogCache(t, dirB, memstore.New())
	if has(t, b2, "from-a") {
		t.Fatal("another database's log was applied")
	}
	mustCreate(t, b2, RootIno, "from-b")
	crash(b2)
	b3 := newLogCache(t, dirB, memstore.New())
	if !has(t, b3, "from-b") || has(t, b3, "from-a") {
		t.Fatal("the adopted log lost or invented updates")
	}
}

// TestLogWriteFailure: when a record cannot be written, the round's
// updates fail and are undone, and later updates are committed to the
// database directly, so nothing is lost after a crash.
func TestLogWriteFailure(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	mustCreate(t, c, RootIno, "before")
	c.ns.mu.Lock()
	c.ns.log.f.Close() // every write to the log fails from now on
	c.ns.mu.Unlock()
	if _, err := c.Create(context.Background(), RootIno, "failed", NewAttr{Mode: 0o644}); err == nil {
		t.Fatal("a create whose record could not be written succeeded")
	}
	if has(t, c, "failed") {
		t.Fatal("the failed create is visible")
	}
	if p := c.Stats().NamespaceProblem; !strings.Contains(p, "log") {
		t.Fatalf("status shows no namespace problem: %q", p)
	}
	mustCreate(t, c, RootIno, "direct")
	if !rawHas(t, dir, "direct") || !rawHas(t, dir, "before") {
		t.Fatal("in direct mode an update is not in the database when it returns")
	}
	crash(c)
	c2 := newLogCache(t, dir, s)
	for name, want := range map[string]bool{"before": true, "failed": false, "direct": true} {
		if got := has(t, c2, name); got != want {
			t.Errorf("after the crash, %s present: %v, want %v", name, got, want)
		}
	}
	// The next start uses a log again.
	mustCreate(t, c2, RootIno, "logged")
	if _, direct := c2.ns.logState(); direct || c2.ns.appends.Load() == 0 {
		t.Fatalf("direct %v, appends %d after a restart", direct, c2.ns.appends.Load())
	}
}

// TestCheckpoint: a checkpoint puts what the log holds in the database
// and starts the log over; a clean close leaves a database any release
// reads, with nothing in the log.
func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	mustCreate(t, c, RootIno, "a")
	if rawHas(t, dir, "a") {
		t.Fatal("in the database before a checkpoint")
	}
	if err := c.ns.checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if used, _ := c.ns.logState(); !rawHas(t, dir, "a") || used != 0 {
		t.Fatalf("after a checkpoint: in the database %v, log %d bytes", rawHas(t, dir, "a"), used)
	}
	mustCreate(t, c, RootIno, "b")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !rawHas(t, dir, "b") {
		t.Fatal("close left an update in the log only")
	}
	db, err := bolt.Open(filepath.Join(dir, "namespace.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if f := newTxn(tx, nil).counter(keyFormat); f != dbFormat {
			t.Errorf("format %d after close, want %d", f, dbFormat)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewsDoNotWaitForTheLogSync: while a round's record is being
// synced, views go on (and see the round), and barrier waits for the
// sync to end.
func TestViewsDoNotWaitForTheLogSync(t *testing.T) {
	c := newLogCache(t, t.TempDir(), memstore.New())
	mustCreate(t, c, RootIno, "first") // loads the root
	entered, release := make(chan struct{}), make(chan struct{})
	c.ns.roundMu.Lock()
	c.ns.log.beforeSync = func() {
		close(entered)
		<-release
	}
	c.ns.roundMu.Unlock()
	done := make(chan error, 1)
	go func() {
		_, err := c.Create(context.Background(), RootIno, "f", NewAttr{Mode: 0o644})
		done <- err
	}()
	<-entered
	viewed := make(chan bool, 1)
	go func() { viewed <- has(t, c, "f") }()
	select {
	case seen := <-viewed:
		if !seen {
			t.Error("a view during the sync does not see the round")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a view waited for the log sync")
	}
	barred := make(chan struct{})
	go func() {
		c.ns.barrier()
		close(barred)
	}()
	time.Sleep(20 * time.Millisecond)
	select {
	case <-barred:
		t.Fatal("barrier returned while a round was being synced")
	default:
	}
	c.ns.log.beforeSync = nil // safe: the round is past reading it
	close(release)
	<-barred
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLogDamaged: a log whose headers are both unreadable stops the
// start with an error that names it and says what to do, and changes
// nothing; a log cut short is written out to its size again.
func TestLogDamaged(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newLogCache(t, dir, s)
	mustCreate(t, c, RootIno, "a")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "namespace.log")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	junk := []byte("not a header")
	for _, off := range []int64{0, logHeaderSlot} {
		if _, err := f.WriteAt(junk, off); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = dir, s
	if _, err := New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), path) ||
		!strings.Contains(err.Error(), "move the log away") {
		t.Fatalf("start with a damaged log: %v", err)
	}
	if !rawHas(t, dir, "a") {
		t.Fatal("the failed start changed the database")
	}

	// Moved away, as the error says: a new log is made.
	if err := os.Rename(path, path+".bad"); err != nil {
		t.Fatal(err)
	}
	c2 := newLogCache(t, dir, s)
	if !has(t, c2, "a") {
		t.Fatal("a lost")
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, logDataStart+100); err != nil {
		t.Fatal(err)
	}
	c3 := newLogCache(t, dir, s)
	mustCreate(t, c3, RootIno, "b")
	if st, err := os.Stat(path); err != nil || st.Size() != logCapacity {
		t.Fatalf("log after a start: %v, %v; want %d bytes", st, err, logCapacity)
	}
	crash(c3)
	c4 := newLogCache(t, dir, s)
	if !has(t, c4, "a") || !has(t, c4, "b") {
		t.Fatal("updates lost with a log that was cut short")
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
				f, err := c.Create(ctx, RootIno, name, NewAttr{Mode: 0o644})
				if err != nil {
					return // the crash came
				}
				if _, err := c.WriteUnstable(ctx, f.Ino, []byte(data), 0); err != nil {
					return
				}
				if err := c.Commit(ctx, f.Ino); err != nil {
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
