package cache

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/internal/testutil"
)

func TestDamagedDatabaseIsAClearError(t *testing.T) {
	dir := t.TempDir()
	c := newTestCache(t, dir, memstore.New())
	c.Close()
	db := filepath.Join(dir, "namespace.db")
	if err := os.WriteFile(db, []byte(strings.Repeat("garbage!", 2048)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = dir, memstore.New()
	_, err := New(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "move it away") {
		t.Fatalf("want a clear error naming %s, got %v", db, err)
	}
}

// TestDirectoryRenameResumesAfterCrash interrupts the copy-and-delete
// move of a directory in an object store midway, as a crash would, and
// checks that the next start finishes it.
func TestDirectoryRenameResumesAfterCrash(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	mem := memstore.New()
	s := &copyLimit{Store: mem}
	s.left.Store(-1)
	c := newTestCache(t, dir, s)
	d := mustMkdir(t, c, RootIno, "proj")
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		f := mustCreate(t, c, d.Ino, name)
		mustWrite(t, c, f.Ino, 0, "content of "+name)
	}
	flush(t, c)
	// Three copies succeed, then the backend fails: the move is half
	// done when the gateway stops.
	s.left.Store(3)
	if _, _, err := c.Rename(ctx, RootIno, "proj", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	if !testutil.Poll(10*time.Second, func() bool { return s.left.Load() <= 0 }) {
		t.Fatalf("%d copies of the move still to come", s.left.Load())
	}
	c.Close()
	var before []string
	mem.List(ctx, backend.ListOptions{}, func(o backend.ObjectInfo) error { before = append(before, o.Key); return nil })
	if len(before) == 6 && before[0] == "proj/" {
		t.Fatalf("the move had not started: %v", before)
	}
	s.left.Store(-1)
	c2 := newTestCache(t, dir, s)
	flush(t, c2)
	var after []string
	mem.List(ctx, backend.ListOptions{}, func(o backend.ObjectInfo) error { after = append(after, o.Key); return nil })
	want := "moved/ moved/a moved/b moved/c moved/d moved/e"
	if strings.Join(after, " ") != want {
		t.Fatalf("after restart the backend holds %v (before: %v), want %s", after, before, want)
	}
	for _, name := range []string{"a", "e"} {
		if got := storeBody(t, mem, "moved/"+name); got != "content of "+name {
			t.Fatalf("moved/%s = %q", name, got)
		}
	}
}

// copyLimit lets left Copy calls through, then fails the rest, until
// left is set negative (no limit).
type copyLimit struct {
	backend.Store
	left atomic.Int64
}

func (s *copyLimit) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if s.left.Load() >= 0 && s.left.Add(-1) < 0 {
		s.left.Store(0)
		return backend.ObjectInfo{}, syscall.ECONNRESET
	}
	return s.Store.Copy(ctx, src, dst, attrs)
}

// TestDirectoryMoveWithRealDirectories moves a tree by copy and delete
// on a store with real directories (POSIX without its Renamer), where a
// directory can only go once it is empty.
func TestDirectoryMoveWithRealDirectories(t *testing.T) {
	ctx := context.Background()
	p, err := posix.New(posix.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	s := struct{ backend.Store }{p} // hides Renamer
	c := newTestCache(t, t.TempDir(), s)
	d := mustMkdir(t, c, RootIno, "top")
	sub := mustMkdir(t, c, d.Ino, "sub")
	f := mustCreate(t, c, sub.Ino, "f")
	mustWrite(t, c, f.Ino, 0, "deep")
	flush(t, c)
	if _, _, err := c.Rename(ctx, RootIno, "top", RootIno, "top2"); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	var keys []string
	p.List(ctx, backend.ListOptions{}, func(o backend.ObjectInfo) error { keys = append(keys, o.Key); return nil })
	if strings.Join(keys, " ") != "top2/ top2/sub/ top2/sub/f" {
		t.Fatalf("backend holds %v", keys)
	}
	if st := c.Stats(); st.UploadErrors != 0 {
		t.Fatalf("upload errors: %+v", st)
	}
}

// lostReply stores the first Put, then runs during and fails it, as a
// crash between the upload and its record does.
type lostReply struct {
	backend.Store
	during func()
}

func (s *lostReply) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	info, err := s.Store.Put(ctx, key, r, size, attrs)
	if s.during != nil && err == nil {
		during := s.during
		s.during = nil
		during()
		return backend.ObjectInfo{}, syscall.ECONNRESET
	}
	return info, err
}

func TestLostUploadReplyIsNoConflict(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	s := &lostReply{Store: mem}
	c := newTestCache(t, t.TempDir(), s)
	f := mustCreate(t, c, RootIno, "f")
	s.during = func() {
		// The clock must move on for the second version to get an
		// mtime of its own; this waits for the clock, not for an event.
		time.Sleep(2 * time.Millisecond)
		if _, _, err := c.WriteAt(ctx, f.Ino, []byte("second version"), 0); err != nil {
			t.Error(err)
		}
	}
	mustWrite(t, c, f.Ino, 0, "first")
	flush(t, c)
	if got := storeBody(t, mem, "f"); got != "second version" {
		t.Fatalf("backend has %q", got)
	}
	if n := c.Stats().Conflicts; n != 0 {
		t.Fatalf("%d conflicts: our own lost upload was taken for someone else's", n)
	}
}
