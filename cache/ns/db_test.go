package ns

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/filegate/filegate/internal/testutil"
)

// openTest opens the namespace in dir with its updates kept in the log
// until the test checkpoints, and closes it with the test.
func openTest(t *testing.T, dir string) *DB {
	t.Helper()
	d, err := Open(dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func testOptions() Options {
	return Options{
		Root:            &Inode{Ino: RootIno, Gen: 1, Mode: fs.ModeDir | 0o755, Nlink: 2},
		CheckpointEvery: time.Hour,
	}
}

// create adds a file name to the root.
func create(d *DB, name string) error {
	return d.Update(func(t *Tx) error {
		root, err := t.GetDir(RootIno)
		if err != nil {
			return err
		}
		if _, _, err := t.Lookup(RootIno, name); err == nil {
			return syscall.EEXIST
		}
		n, err := t.NewInode()
		if err != nil {
			return err
		}
		n.Mode, n.Parent, n.Name = 0o644, RootIno, name
		if err := t.Put(n); err != nil {
			return err
		}
		return t.Link(root, name, n)
	})
}

func mustCreate(t *testing.T, d *DB, name string) {
	t.Helper()
	if err := create(d, name); err != nil {
		t.Fatal(err)
	}
}

// has reports whether the root holds name.
func has(t *testing.T, d *DB, name string) bool {
	t.Helper()
	var err error
	verr := d.View(func(tx *Tx) error {
		_, _, err = tx.Lookup(RootIno, name)
		return nil
	})
	if verr != nil {
		t.Fatal(verr)
	}
	if err != nil && !errors.Is(err, syscall.ENOENT) {
		t.Fatal(err)
	}
	return err == nil
}

// rawHas reports whether the database file in dir alone, without its
// log, has name in the root folder.
func rawHas(t *testing.T, dir, name string) bool {
	t.Helper()
	db := testutil.CopyBolt(t, filepath.Join(dir, "namespace.db"), true)
	found := false
	err := db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(bucketDirents).Get(DirentKey(RootIno, name)) != nil
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// readLog opens the log in dir for reading only (openLog would write it
// out to its size), closed with the test.
func readLog(t *testing.T, dir string) *logFile {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "namespace.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	l := &logFile{f: f, path: f.Name()}
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

// logState is how many bytes of records the log holds and whether the
// namespace is in direct mode, read as a round would.
func (d *DB) logState() (used int64, direct bool) {
	d.roundMu.Lock() // a round syncs the log outside mu
	defer d.roundMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log != nil {
		used = d.log.used()
	}
	return used, d.direct
}

// roundInProgress reports whether a round holds roundMu, which Barrier
// waits for.
func (d *DB) roundInProgress() bool {
	if d.roundMu.TryLock() {
		d.roundMu.Unlock()
		return false
	}
	return true
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
	d := openTest(t, dir)
	mustCreate(t, d, "kept")
	mustCreate(t, d, "torn")
	d.Abandon()
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

	d2 := openTest(t, dir)
	if !has(t, d2, "kept") || has(t, d2, "torn") {
		t.Fatalf("kept %v, torn %v: want the update before the torn record only", has(t, d2, "kept"), has(t, d2, "torn"))
	}
	// A new record after the torn one is written where it was, and read
	// back after another crash.
	mustCreate(t, d2, "after")
	d2.Abandon()
	d3 := openTest(t, dir)
	if !has(t, d3, "kept") || !has(t, d3, "after") || has(t, d3, "torn") {
		t.Fatal("after a second crash: the log lost or invented updates")
	}
}

// TestLogOfAnotherDatabase: a log is applied only to the database it
// was made for, so a database moved away (to rebuild the namespace) is
// not filled with another's updates.
func TestLogOfAnotherDatabase(t *testing.T) {
	dirA, dirB := t.TempDir(), t.TempDir()
	a := openTest(t, dirA)
	mustCreate(t, a, "from-a")
	a.Abandon()
	b := openTest(t, dirB)
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
	b2 := openTest(t, dirB)
	if has(t, b2, "from-a") {
		t.Fatal("another database's log was applied")
	}
	mustCreate(t, b2, "from-b")
	b2.Abandon()
	b3 := openTest(t, dirB)
	if !has(t, b3, "from-b") || has(t, b3, "from-a") {
		t.Fatal("the adopted log lost or invented updates")
	}
}

// TestLogWriteFailure: when a record cannot be written, the round's
// updates fail and are undone, and later updates are committed to the
// database directly, so nothing is lost after a crash.
func TestLogWriteFailure(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir)
	mustCreate(t, d, "before")
	d.mu.Lock()
	d.log.f.Close() // every write to the log fails from now on
	d.mu.Unlock()
	if err := create(d, "failed"); err == nil {
		t.Fatal("a create whose record could not be written succeeded")
	}
	if has(t, d, "failed") {
		t.Fatal("the failed create is visible")
	}
	if p := d.Problem(); !strings.Contains(p, "log") {
		t.Fatalf("no namespace problem shown: %q", p)
	}
	mustCreate(t, d, "direct")
	if !rawHas(t, dir, "direct") || !rawHas(t, dir, "before") {
		t.Fatal("in direct mode an update is not in the database when it returns")
	}
	d.Abandon()
	d2 := openTest(t, dir)
	for name, want := range map[string]bool{"before": true, "failed": false, "direct": true} {
		if got := has(t, d2, name); got != want {
			t.Errorf("after the crash, %s present: %v, want %v", name, got, want)
		}
	}
	// The next start uses a log again.
	mustCreate(t, d2, "logged")
	if _, direct := d2.logState(); direct || d2.Stats().Appends == 0 {
		t.Fatalf("direct %v, appends %d after a restart", direct, d2.Stats().Appends)
	}
}

// TestCheckpoint: a checkpoint puts what the log holds in the database
// and starts the log over; a clean close leaves a database any release
// reads, with nothing in the log.
func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir)
	mustCreate(t, d, "a")
	if rawHas(t, dir, "a") {
		t.Fatal("in the database before a checkpoint")
	}
	if err := d.Checkpoint(true); err != nil {
		t.Fatal(err)
	}
	if used, _ := d.logState(); !rawHas(t, dir, "a") || used != 0 {
		t.Fatalf("after a checkpoint: in the database %v, log %d bytes", rawHas(t, dir, "a"), used)
	}
	mustCreate(t, d, "b")
	if err := d.Close(); err != nil {
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
		if f := newTx(tx, nil).Counter(KeyFormat); f != Format {
			t.Errorf("format %d after close, want %d", f, Format)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestViewsDoNotWaitForTheLogSync: while a round's record is being
// synced, views go on (and see the round), and Barrier waits for the
// sync to end.
func TestViewsDoNotWaitForTheLogSync(t *testing.T) {
	d := openTest(t, t.TempDir())
	mustCreate(t, d, "first")
	entered, release := make(chan struct{}), make(chan struct{})
	d.roundMu.Lock()
	d.log.beforeSync = func() {
		close(entered)
		<-release
	}
	d.roundMu.Unlock()
	done := make(chan error, 1)
	go func() { done <- create(d, "f") }()
	<-entered
	viewed := make(chan bool, 1)
	go func() { viewed <- has(t, d, "f") }()
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
		d.Barrier()
		close(barred)
	}()
	// The round is held in beforeSync: Barrier cannot return while it
	// holds roundMu.
	if !d.roundInProgress() {
		t.Fatal("the round does not hold roundMu while its record is being synced")
	}
	select {
	case <-barred:
		t.Fatal("Barrier returned while a round was being synced")
	default:
	}
	d.log.beforeSync = nil // safe: the round is past reading it
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
	d := openTest(t, dir)
	mustCreate(t, d, "a")
	if err := d.Close(); err != nil {
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
	if _, err := Open(dir, testOptions()); err == nil || !strings.Contains(err.Error(), path) ||
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
	d2 := openTest(t, dir)
	if !has(t, d2, "a") {
		t.Fatal("a lost")
	}
	if err := d2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, logDataStart+100); err != nil {
		t.Fatal(err)
	}
	d3 := openTest(t, dir)
	mustCreate(t, d3, "b")
	if st, err := os.Stat(path); err != nil || st.Size() != logCapacity {
		t.Fatalf("log after a start: %v, %v; want %d bytes", st, err, logCapacity)
	}
	d3.Abandon()
	d4 := openTest(t, dir)
	if !has(t, d4, "a") || !has(t, d4, "b") {
		t.Fatal("updates lost with a log that was cut short")
	}
}
