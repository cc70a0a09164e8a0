package refresh

import (
	"bytes"
	"context"
	"io/fs"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/ns"
)

// fakeHost is a cache reduced to what the refresh room asks of it: a
// namespace, and notes of the content it was told to drop.
type fakeHost struct {
	db *ns.DB

	mu sync.Mutex
	// busy and pending are what Tx.Busy and Tx.Pending report.
	busy    map[ns.Ino]bool
	pending []string
	// stale and dropped are the inodes given to DropStale and those
	// whose content DropContent dropped.
	stale, dropped []ns.Ino
}

type fakeTx struct {
	t *ns.Tx
	h *fakeHost
}

func (h *fakeHost) View(fn func(Tx) error) error {
	return h.db.View(func(t *ns.Tx) error { return fn(fakeTx{t, h}) })
}

func (h *fakeHost) Update(fn func(Tx) error) error {
	return h.db.Update(func(t *ns.Tx) error { return fn(fakeTx{t, h}) })
}

func (h *fakeHost) DropContent(ino ns.Ino, fn func(Tx, *ns.Inode) bool) error {
	dropped := false
	err := h.Update(func(t Tx) error {
		n, err := t.Inode(ino)
		if err != nil {
			return nil
		}
		if dropped = fn(t, n); !dropped {
			return nil
		}
		n.Flags &^= ns.FlagLocal
		return t.PutInode(n)
	})
	if dropped {
		h.mu.Lock()
		h.dropped = append(h.dropped, ino)
		h.mu.Unlock()
	}
	return err
}

func (h *fakeHost) DropStale(ino ns.Ino) {
	h.mu.Lock()
	h.stale = append(h.stale, ino)
	h.mu.Unlock()
}

func (f fakeTx) NS() *ns.Tx                          { return f.t }
func (f fakeTx) Inode(ino ns.Ino) (*ns.Inode, error) { return f.t.Get(ino) }
func (f fakeTx) PutInode(n *ns.Inode) error          { return f.t.Put(n) }
func (f fakeTx) DeleteInode(ino ns.Ino) error        { return f.t.Delete(ino) }
func (f fakeTx) Dirty(func(ns.Ino)) error            { return nil }

func (f fakeTx) Busy(n *ns.Inode) bool {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	return f.h.busy[n.Ino]
}

func (f fakeTx) Pending(fn func(string)) error {
	f.h.mu.Lock()
	defer f.h.mu.Unlock()
	for _, k := range f.h.pending {
		fn(k)
	}
	return nil
}

func newRefresher(t *testing.T, s backend.Store) (*Refresher, *fakeHost) {
	t.Helper()
	db, err := ns.Open(t.TempDir(), ns.Options{
		Root:            &ns.Inode{Ino: ns.RootIno, Gen: 1, Mode: fs.ModeDir | 0o755, Nlink: 2, Flags: ns.FlagRemote},
		CheckpointEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	h := &fakeHost{db: db, busy: map[ns.Ino]bool{}}
	r := New(Config{Host: h, Store: s, DefaultFileMode: 0o644, DefaultDirMode: 0o755})
	t.Cleanup(r.Close)
	return r, h
}

func put(t *testing.T, s backend.Store, key, body string) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, bytes.NewReader([]byte(body)), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

// lookup returns the inode named name in the root, nil when none.
func lookup(t *testing.T, h *fakeHost, name string) *ns.Inode {
	t.Helper()
	var n *ns.Inode
	err := h.db.View(func(tx *ns.Tx) error {
		ino, _, err := tx.Lookup(ns.RootIno, name)
		if err != nil {
			return nil
		}
		n, err = tx.Get(ino)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestLoadDirListsOnce: the first use of a directory lists it and marks
// it loaded; later uses within DirTTL (0: forever) do not list again.
func TestLoadDirListsOnce(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	put(t, s, "a.txt", "a")
	put(t, s, "d/b.txt", "b")
	r, h := newRefresher(t, s)
	if err := r.LoadDir(ctx, ns.RootIno); err != nil {
		t.Fatal(err)
	}
	a, d := lookup(t, h, "a.txt"), lookup(t, h, "d")
	if a == nil || a.Size != 1 || a.Mode != 0o644 || !a.Has(ns.FlagRemote) {
		t.Fatalf("a.txt listed as %+v", a)
	}
	if d == nil || !d.Mode.IsDir() || d.Has(ns.FlagLoaded) {
		t.Fatalf("d listed as %+v", d)
	}
	put(t, s, "later.txt", "x")
	if err := r.LoadDir(ctx, ns.RootIno); err != nil {
		t.Fatal(err)
	}
	if lookup(t, h, "later.txt") != nil {
		t.Fatal("a loaded directory was listed again within DirTTL")
	}
}

// TestRefreshMergesTheCloud: a refresh adds new objects, removes clean
// entries whose objects are gone (leaving their content to DropStale),
// keeps names with journal ops pending, and gives a changed file its new
// version through DropContent unless it is busy.
func TestRefreshMergesTheCloud(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	for _, k := range []string{"changed", "busy", "gone", "pending"} {
		put(t, s, k, "v1")
	}
	r, h := newRefresher(t, s)
	if err := r.LoadDir(ctx, ns.RootIno); err != nil {
		t.Fatal(err)
	}
	changed, busy, gone := lookup(t, h, "changed"), lookup(t, h, "busy"), lookup(t, h, "gone")
	h.busy[busy.Ino] = true
	h.pending = []string{"pending"}
	put(t, s, "changed", "version two")
	put(t, s, "busy", "version two")
	put(t, s, "new", "n")
	for _, k := range []string{"gone", "pending"} {
		if err := s.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Refresh(ctx, ns.RootIno); err != nil {
		t.Fatal(err)
	}
	if n := lookup(t, h, "changed"); n == nil || n.Size != int64(len("version two")) {
		t.Fatalf("changed file after the refresh: %+v", n)
	}
	if n := lookup(t, h, "busy"); n == nil || n.Size != 2 {
		t.Fatalf("busy file took the cloud's version: %+v", n)
	}
	if lookup(t, h, "new") == nil {
		t.Fatal("new object not listed")
	}
	if lookup(t, h, "gone") != nil {
		t.Fatal("entry of a deleted object kept")
	}
	if lookup(t, h, "pending") == nil {
		t.Fatal("name with a journal op pending removed")
	}
	if len(h.dropped) != 1 || h.dropped[0] != changed.Ino {
		t.Fatalf("content dropped for %v, want %v", h.dropped, changed.Ino)
	}
	if len(h.stale) != 1 || h.stale[0] != gone.Ino {
		t.Fatalf("stale content %v, want %v", h.stale, gone.Ino)
	}
}
