package cache

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/internal/testutil"
)

func TestFlushPathAndFailures(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	s := faultstore.New(mem)
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	d := mustMkdir(t, c, RootIno, "d")
	in := mustCreate(t, c, d.Ino, "in")
	mustWrite(t, c, in.Ino, 0, "inside")
	out := mustCreate(t, c, RootIno, "out")
	mustWrite(t, c, out.Ino, 0, "outside")
	var last Progress
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.FlushIno(fctx, d.Ino, func(p Progress) { last = p }); err != nil {
		t.Fatal(err)
	}
	if last.Files != 0 {
		t.Fatalf("last progress %+v", last)
	}
	if got := storeBody(t, mem, "d/in"); got != "inside" {
		t.Fatalf("d/in = %q", got)
	}
	if st := c.Stats(); st.DirtyFiles != 1 || st.OldestDirty.IsZero() {
		t.Fatalf("outside file should still wait: %+v", st)
	}
	// A failing upload is listed with its error.
	s.Set(faultstore.Put, faultstore.Fault{Err: syscall.ECONNREFUSED})
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if err := c.FlushIno(short, out.Ino, nil); err == nil {
		t.Fatal("flush during an outage returned nil")
	}
	st := c.Stats()
	if len(st.Failing) != 1 || st.Failing[0].Key != "out" || st.Failing[0].Attempts == 0 {
		t.Fatalf("failing %+v", st.Failing)
	}
	s.Clear()
	flush(t, c)
	if st := c.Stats(); len(st.Failing) != 0 || st.DirtyFiles != 0 || !st.OldestDirty.IsZero() {
		t.Fatalf("after recovery %+v", st)
	}
}

func TestPinAndEvict(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	putObject(t, s, "p/a", randBytes(2*content.ChunkSize, 5))
	putObject(t, s, "p/b", randBytes(content.ChunkSize, 6))
	// Room enough that the background evictor never runs: evictTo below
	// puts the cache under pressure, and Evict must find both files.
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.MaxBytes = 1 << 40 })
	p, err := c.Lookup(ctx, RootIno, "p")
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Pin(ctx, p.Ino, nil)
	if err != nil || got.Files != 2 || got.Bytes != 3*content.ChunkSize {
		t.Fatalf("pin %+v %v", got, err)
	}
	// Evicting down to nothing, pinned files stay.
	c.evictTo(0)
	if c.UsedBytes() != 3*content.ChunkSize {
		t.Fatalf("pinned content evicted: %d bytes left", c.UsedBytes())
	}
	if n, err := c.Unpin(ctx, p.Ino); err != nil || n != 2 {
		t.Fatalf("unpin %d %v", n, err)
	}
	ev, err := c.Evict(ctx, p.Ino)
	if err != nil || ev.Files != 2 || c.UsedBytes() != 0 {
		t.Fatalf("evict %+v %v, %d left", ev, err, c.UsedBytes())
	}
	a, _ := c.Lookup(ctx, p.Ino, "a")
	if readAll(t, c, a.Ino) != string(randBytes(2*content.ChunkSize, 5)) {
		t.Fatal("evicted file reads wrong")
	}
}

func TestHungBackendDoesNotHoldTheJournal(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	s := faultstore.New(mem)
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.OpTimeout = 50 * time.Millisecond })
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "data")
	s.Set(faultstore.Put, faultstore.Fault{Stall: true})
	if _, _, err := c.Rename(ctx, RootIno, "f", RootIno, "g"); err != nil {
		t.Fatal(err)
	}
	// An upload must have stalled and timed out before the backend
	// comes back, or the flush below proves nothing about the timeout.
	if !testutil.Poll(10*time.Second, func() bool {
		st := c.Stats()
		return st.UploadErrors > 0 && strings.Contains(st.LastError, "stalled")
	}) {
		t.Fatalf("no upload stalled and timed out: %+v", c.Stats())
	}
	s.Clear()
	flush(t, c)
	if got := storeBody(t, mem, "g"); got != "data" {
		t.Fatalf("g = %q", got)
	}
}

func TestFlushDoesNotWaitOutTheBackoff(t *testing.T) {
	mem := memstore.New()
	s := faultstore.New(mem)
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) {
		cfg.RetryMin, cfg.RetryMax = time.Hour, time.Hour
	})
	s.Set(faultstore.Put, faultstore.Fault{Err: syscall.ECONNREFUSED})
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "x")
	if !testutil.Poll(10*time.Second, func() bool { return len(c.Stats().Failing) > 0 }) {
		t.Fatal("the refused upload never failed")
	}
	s.Clear()
	// The journal now backs off for an hour; a flush must not wait it out.
	flush(t, c)
	if got := storeBody(t, mem, "f"); got != "x" {
		t.Fatalf("f = %q", got)
	}
}
