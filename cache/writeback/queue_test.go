package writeback

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
)

// fakeHost is the least of a cache a Queue runs on: the namespace, data
// files in memory, no unstable writes.
type fakeHost struct {
	db   *ns.DB
	data *vfs.Mem
	q    *Queue
}

type fakeTx struct {
	t  *ns.Tx
	ch *Changes
}

func (f fakeTx) NS() *ns.Tx                          { return f.t }
func (f fakeTx) Changes() *Changes                   { return f.ch }
func (f fakeTx) Inode(ino ns.Ino) (*ns.Inode, error) { return f.t.Get(ino) }
func (f fakeTx) PutInode(n *ns.Inode) error          { return f.t.Put(n) }
func (f fakeTx) Unstable(ns.Ino) (int64, bool)       { return 0, false }

func (h *fakeHost) View(fn func(Tx) error) error {
	return h.db.View(func(t *ns.Tx) error { return fn(fakeTx{t, &Changes{}}) })
}

func (h *fakeHost) Update(fn func(Tx) error) error {
	h.q.BeginUpdate()
	defer h.q.EndUpdate()
	var ch *Changes
	err := h.db.Update(func(t *ns.Tx) error {
		ch = &Changes{}
		return fn(fakeTx{t, ch})
	})
	if err == nil {
		h.q.Committed(ch)
	}
	return err
}

func (h *fakeHost) OpenData(ino ns.Ino) (vfs.File, error) {
	return h.data.OpenFile(strconv.FormatUint(uint64(ino), 10), os.O_RDWR, 0)
}

func (h *fakeHost) CommitPending() {}

// failPuts fails the first n uploads.
type failPuts struct {
	backend.Store
	n atomic.Int64
}

func (s *failPuts) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if s.n.Add(-1) >= 0 {
		return backend.ObjectInfo{}, errors.New("backend down")
	}
	return s.Store.Put(ctx, key, r, size, attrs)
}

func newTestQueue(t *testing.T, store backend.Store) (*Queue, *fakeHost) {
	t.Helper()
	db, err := ns.Open(t.TempDir(), ns.Options{
		Root:            &ns.Inode{Ino: ns.RootIno, Gen: 1, Mode: fs.ModeDir | 0o755, Nlink: 2},
		CheckpointEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &fakeHost{db: db, data: vfs.NewMem()}
	q, err := New(Config{
		Host: h, DB: db, Store: store, Dirty: NewDirty(0),
		UploadDelay: time.Hour, UploadConcurrency: 2,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, OpTimeout: time.Minute,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	h.q = q
	q.Start(context.Background())
	t.Cleanup(func() {
		q.Close()
		db.Close()
	})
	return q, h
}

// writeFile creates the dirty file name in the root holding body.
func writeFile(t *testing.T, h *fakeHost, name, body string) ns.Ino {
	t.Helper()
	var ino ns.Ino
	err := h.Update(func(tx Tx) error {
		nt := tx.NS()
		root, err := nt.GetDir(ns.RootIno)
		if err != nil {
			return err
		}
		n, err := nt.NewInode()
		if err != nil {
			return err
		}
		ino = n.Ino
		n.Mode, n.Parent, n.Name, n.Size, n.Flags = 0o644, ns.RootIno, name, int64(len(body)), ns.FlagLocal
		f, err := h.data.OpenFile(strconv.FormatUint(uint64(ino), 10), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := f.WriteAt([]byte(body), 0); err != nil {
			return err
		}
		if err := tx.Changes().SetDirty(nt, n); err != nil {
			return err
		}
		if err := nt.Put(n); err != nil {
			return err
		}
		return nt.Link(root, name, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

func TestFlushUploadsAndCleans(t *testing.T) {
	mem := memstore.New()
	q, h := newTestQueue(t, mem)
	ino := writeFile(t, h, "a", "hello")
	if !q.dirty.Is(ino) {
		t.Fatal("file not counted dirty")
	}
	if err := q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	info, err := mem.Stat(context.Background(), "a")
	if err != nil || info.Size != 5 {
		t.Fatalf("backend: %+v, %v", info, err)
	}
	s := q.Stats()
	if s.Uploads != 1 || s.UploadBytes != 5 || s.JournalOps != 0 || q.dirty.Is(ino) || q.dirty.Bytes() != 0 {
		t.Fatalf("after flush: %+v, dirty bytes %d", s, q.dirty.Bytes())
	}
	_ = h.View(func(tx Tx) error {
		n, err := tx.Inode(ino)
		if err != nil || n.Has(ns.FlagDirty) || !n.Has(ns.FlagRemote) {
			t.Errorf("inode after upload: %+v, %v", n, err)
		}
		return nil
	})
}

func TestFailedUploadIsRetried(t *testing.T) {
	store := &failPuts{Store: memstore.New()}
	store.n.Store(3)
	q, h := newTestQueue(t, store)
	writeFile(t, h, "a", "hello")
	if err := q.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := q.Stats()
	if s.Uploads != 1 || s.UploadErrors != 3 || s.LastError == "" || len(s.Failing) != 0 {
		t.Fatalf("after retries: %+v", s)
	}
}
