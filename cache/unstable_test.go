package cache

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
)

func TestUnstableWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := memstore.New()
	c := newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	f := mustCreate(t, c, RootIno, "f")
	// The first write makes the file durably dirty; later ones are
	// unstable until Commit.
	for i := range 8 {
		if _, _, err := c.WriteUnstable(ctx, f.Ino, []byte("abcd"), int64(4*i)); err != nil {
			t.Fatal(err)
		}
	}
	a, err := c.GetAttr(ctx, f.Ino)
	if err != nil || a.Size != 32 {
		t.Fatalf("attr before commit %+v %v", a, err)
	}
	if got := readAll(t, c, f.Ino); got != strings.Repeat("abcd", 8) {
		t.Fatalf("read before commit %q", got)
	}
	if c.DirtyBytes() != 32 {
		t.Fatalf("dirty bytes %d", c.DirtyBytes())
	}
	if _, err := c.Commit(ctx, f.Ino); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := storeBody(t, s, "f"); got != strings.Repeat("abcd", 8) {
		t.Fatalf("backend %q", got)
	}
	// Committed writes survive a restart.
	c.Close()
	c2 := newSizedCache(t, dir, s, nil)
	if a, _ := c2.GetAttr(ctx, f.Ino); a.Size != 32 {
		t.Fatalf("size after restart %d", a.Size)
	}
}

// putHook runs during once, inside the next Put, after the body is read.
type putHook struct {
	backend.Store
	during func()
}

func (s *putHook) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	info, err := s.Store.Put(ctx, key, r, size, attrs)
	if s.during != nil {
		during := s.during
		s.during = nil
		during()
	}
	return info, err
}

func TestUncommittedWritesAreNeverEvicted(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	s := &putHook{Store: mem}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) {
		cfg.MaxBytes, cfg.HighWater, cfg.LowWater = content.ChunkSize, 0.5, 0.1
		cfg.UploadDelay = time.Hour // uploads only when QueueAll below asks
	})
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "base")
	tail := strings.Repeat("u", content.ChunkSize)
	// An unstable write lands while the file is being uploaded.
	s.during = func() {
		if _, _, err := c.WriteUnstable(ctx, f.Ino, []byte(tail), 4); err != nil {
			t.Error(err)
		}
	}
	c.wb.QueueAll()
	if err := c.wb.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	c.evictTo(0)
	if got := readAll(t, c, f.Ino); got != "base"+tail {
		t.Fatalf("uncommitted data lost: %d bytes", len(got))
	}
	if _, err := c.Commit(ctx, f.Ino); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := storeBody(t, mem, "f"); got != "base"+tail {
		t.Fatalf("backend has %d bytes", len(got))
	}
}
