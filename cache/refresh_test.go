package cache

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
)

func TestRefreshPicksUpCloudChanges(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testRefresh(t, newStore()) })
	}
}

func testRefresh(t *testing.T, s backend.Store) {
	ctx := context.Background()
	putObject(t, s, "keep.txt", []byte("old"))
	putObject(t, s, "gone.txt", []byte("bye"))
	c := newTestCache(t, t.TempDir(), s)
	keep, err := c.Lookup(ctx, RootIno, "keep.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, keep.Ino); got != "old" {
		t.Fatalf("read %q", got)
	}
	gone, _ := c.Lookup(ctx, RootIno, "gone.txt")
	mine := mustCreate(t, c, RootIno, "mine.txt")
	mustWrite(t, c, mine.Ino, 0, "local")

	// Someone else changes the bucket. The clock must move on for the
	// changed object to get an mtime of its own (POSIX keeps the
	// kernel's coarse file time); this waits for the clock, not for an
	// event.
	time.Sleep(10 * time.Millisecond)
	putObject(t, s, "keep.txt", []byte("new content"))
	putObject(t, s, "fresh.txt", []byte("hello"))
	if err := s.Delete(ctx, "gone.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, keep.Ino); got != "new content" {
		t.Fatalf("changed file reads %q", got)
	}
	fresh, err := c.Lookup(ctx, RootIno, "fresh.txt")
	if err != nil || readAll(t, c, fresh.Ino) != "hello" {
		t.Fatalf("new cloud file: %v", err)
	}
	if _, err := c.Lookup(ctx, RootIno, "gone.txt"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("deleted cloud file still listed: %v", err)
	}
	if _, err := c.GetAttr(ctx, gone.Ino); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("deleted cloud file's inode: %v", err)
	}
	if got := readAll(t, c, mine.Ino); got != "local" {
		t.Fatalf("local file changed by refresh: %q", got)
	}
}

func TestRefreshDoesNotResurrectPendingChanges(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	putObject(t, mem, "a.txt", []byte("a"))
	putObject(t, mem, "b.txt", []byte("b"))
	s := faultstore.New(mem)
	c := newTestCache(t, t.TempDir(), s)
	if _, err := c.Lookup(ctx, RootIno, "a.txt"); err != nil {
		t.Fatal(err)
	}
	// The cloud is refusing changes: the delete and rename stay queued.
	s.Set(faultstore.Delete, faultstore.Fault{Err: syscall.ECONNREFUSED})
	s.Set(faultstore.Copy, faultstore.Fault{Err: syscall.ECONNREFUSED})
	if _, err := c.Remove(ctx, RootIno, "a.txt"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Rename(ctx, RootIno, "b.txt", RootIno, "c.txt"); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	var names []string
	c.ReadDir(ctx, RootIno, 0, func(e DirEntry) bool { names = append(names, e.Name); return true })
	if strings.Join(names, ",") != "c.txt" {
		t.Fatalf("after refresh with pending changes: %v", names)
	}
	s.Clear()
	flush(t, c)
	if _, err := mem.Stat(ctx, "a.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a.txt not deleted after the outage")
	}
	if got := storeBody(t, mem, "c.txt"); got != "b" {
		t.Fatalf("c.txt = %q", got)
	}
}

func TestConflictKeepsBoth(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testConflict(t, newStore()) })
	}
}

func testConflict(t *testing.T, s backend.Store) {
	ctx := context.Background()
	putObject(t, s, "doc.txt", []byte("base"))
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	a, err := c.Lookup(ctx, RootIno, "doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, a.Ino, 0, "OURS")
	// Their version needs an mtime later than the one this cache saw;
	// this waits for the clock, not for an event.
	time.Sleep(10 * time.Millisecond)
	putObject(t, s, "doc.txt", []byte("theirs, longer"))
	flush(t, c)
	if got := storeBody(t, s, "doc.txt"); got != "OURS" {
		t.Fatalf("backend has %q, want ours", got)
	}
	var aside []string
	err = s.List(ctx, backend.ListOptions{Prefix: "doc.conflict-"}, func(o backend.ObjectInfo) error {
		aside = append(aside, o.Key)
		return nil
	})
	if err != nil || len(aside) != 1 || !strings.HasSuffix(aside[0], ".txt") {
		t.Fatalf("conflict copies %v %v", aside, err)
	}
	if got := storeBody(t, s, aside[0]); got != "theirs, longer" {
		t.Fatalf("conflict copy holds %q", got)
	}
	if c.Stats().Conflicts != 1 {
		t.Fatalf("conflicts %d", c.Stats().Conflicts)
	}
	// The copy shows up for clients once the directory lists again.
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, RootIno, aside[0]); err != nil {
		t.Fatalf("conflict copy not visible: %v", err)
	}
	// A second upload of ours is no conflict.
	mustWrite(t, c, a.Ino, 0, "ours2")
	flush(t, c)
	if c.Stats().Conflicts != 1 {
		t.Fatal("our own earlier upload was taken for a conflict")
	}
}

// hookList runs during before each List returns, as a client would act
// while a listing is in flight.
type hookList struct {
	backend.Store
	during func()
}

func (s *hookList) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	err := s.Store.List(ctx, opts, fn)
	if s.during != nil {
		during := s.during
		s.during = nil
		during()
	}
	return err
}

func TestRefreshKeepsEntriesMadeDuringTheListing(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	putObject(t, mem, "old.txt", []byte("old"))
	s := &hookList{Store: mem}
	c := newTestCache(t, t.TempDir(), s)
	if _, err := c.Lookup(ctx, RootIno, "old.txt"); err != nil {
		t.Fatal(err)
	}
	s.during = func() {
		mustMkdir(t, c, RootIno, "made-meanwhile")
		f := mustCreate(t, c, RootIno, "f")
		mustWrite(t, c, f.Ino, 0, "x")
		flush(t, c) // uploaded and out of the journal before the merge
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, RootIno, "made-meanwhile"); err != nil {
		t.Fatalf("directory made during the listing was dropped: %v", err)
	}
	if _, err := c.Lookup(ctx, RootIno, "f"); err != nil {
		t.Fatalf("file made during the listing was dropped: %v", err)
	}
	// A later, quiet refresh still works.
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, RootIno, "made-meanwhile"); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshTakesMetadataChanges: a chmod or chown made in the cloud
// without changing the content (a tool on the POSIX backend; a metadata
// rewrite) reaches the namespace at the next refresh, and the content
// is kept, not fetched again as a new version.
func TestRefreshTakesMetadataChanges(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := newStore()
			mtime := time.Unix(1700000000, 0)
			put := func(mode fs.FileMode, uid uint32) {
				attrs := &backend.Attrs{Mode: mode, UID: uid, GID: uid, MTime: mtime}
				if _, err := s.Put(ctx, "f", bytes.NewReader([]byte("same")), 4, attrs); err != nil {
					t.Fatal(err)
				}
			}
			put(0o644, 1000)
			c := newTestCache(t, t.TempDir(), s)
			f, err := c.Lookup(ctx, RootIno, "f")
			if err != nil || f.Mode.Perm() != 0o644 || f.UID != 1000 {
				t.Fatalf("before: %+v %v", f, err)
			}
			if got := readAll(t, c, f.Ino); got != "same" {
				t.Fatalf("read %q", got)
			}
			put(0o600, 1001)
			if err := c.Refresh(ctx, RootIno); err != nil {
				t.Fatal(err)
			}
			a, err := c.GetAttr(ctx, f.Ino)
			if err != nil || a.Mode.Perm() != 0o600 || a.UID != 1001 || a.GID != 1001 || a.Mtime.Unix() != mtime.Unix() {
				t.Fatalf("after the cloud's chmod and chown: %+v %v", a, err)
			}
			if got := readAll(t, c, f.Ino); got != "same" {
				t.Fatalf("read %q after the change", got)
			}
			if st := c.Stats(); st.Conflicts != 0 || st.DirtyFiles != 0 {
				t.Fatalf("a metadata change made %d conflicts, %d dirty files", st.Conflicts, st.DirtyFiles)
			}
		})
	}
}

// ownerless is a store that keeps no ownership, as a backend folder
// written by a daemon that may not chown: every object reads back as
// owned by 4242.
type ownerless struct{ backend.Store }

func ownerOf(o backend.ObjectInfo) backend.ObjectInfo {
	if o.Attrs != nil {
		a := *o.Attrs
		a.UID, a.GID = 4242, 4242
		o.Attrs = &a
	}
	return o
}

func (s ownerless) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	o, err := s.Store.Stat(ctx, key)
	return ownerOf(o), err
}

func (s ownerless) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	return s.Store.List(ctx, opts, func(o backend.ObjectInfo) error { return fn(ownerOf(o)) })
}

// TestRefreshAfterOurOwnMove: a file moved here gets another ETag in
// the backend (a copy, a POSIX rename's ctime); a refresh must not take
// that for a metadata change made in the cloud and give the file the
// owner a backend that keeps none reports.
func TestRefreshAfterOurOwnMove(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), ownerless{memstore.New()})
	a, _, err := c.Create(ctx, RootIno, "a", NewAttr{Mode: 0o644, UID: 1000, GID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, c, a.Ino, 0, "data")
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Rename(ctx, RootIno, "a", RootIno, "b"); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if got, err := c.GetAttr(ctx, a.Ino); err != nil || got.UID != 1000 || got.GID != 1000 {
		t.Fatalf("after our move and a refresh: %+v %v", got, err)
	}
}
