package cache

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/vfs"
)

// TestDataFileErrorsReachTheCaller: an error of the cache disk under a
// write, a COMMIT or a read comes back to the caller as that error,
// changes no acknowledged state, and the call works once the disk
// does.
func TestDataFileErrorsReachTheCaller(t *testing.T) {
	holdRecords(t)
	ctx := context.Background()
	// fault is the kind of operation failing, and its error.
	type fault struct {
		kind vfs.OpKind
		err  error
	}
	var failing atomic.Pointer[fault]
	fail := func(k vfs.OpKind, err error) { failing.Store(&fault{k, err}) }
	fsys := vfs.Inject(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		if f := failing.Load(); f != nil && op.Kind == f.kind && !strings.Contains(op.Path, "/"+content.SpareDirName+"/") {
			return f.err
		}
		return nil
	}))
	c := newSizedCache(t, t.TempDir(), memstore.New(), func(cfg *Config) { cfg.FS = fsys })
	f := mustCreate(t, c, RootIno, "f")
	body := strings.Repeat("0123456789", 10<<10) // over content.InlineMaxBytes: COMMIT fsyncs it

	fail(vfs.OpWrite, syscall.ENOSPC)
	if _, _, err := c.WriteUnstable(ctx, f.Ino, []byte(body), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v, want ENOSPC", err)
	}
	if a, err := c.GetAttr(ctx, f.Ino); err != nil || a.Size != 0 {
		t.Fatalf("after a failed write: size %d, %v", a.Size, err)
	}
	fail(vfs.OpSync, syscall.EIO)
	if _, _, err := c.WriteUnstable(ctx, f.Ino, []byte(body), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, f.Ino); !errors.Is(err, syscall.EIO) {
		t.Fatalf("commit with a failing fsync: %v, want EIO", err)
	}
	failing.Store(nil)
	// A failed COMMIT is tried again by the next one.
	if _, err := c.Commit(ctx, f.Ino); err != nil {
		t.Fatalf("commit once the disk works: %v", err)
	}
	fail(vfs.OpRead, syscall.EIO)
	buf := make([]byte, 10)
	if _, err := c.ReadAt(ctx, f.Ino, buf, 0); !errors.Is(err, syscall.EIO) {
		t.Fatalf("read with a failing disk: %v, want EIO", err)
	}
	failing.Store(nil)
	if got := readAll(t, c, f.Ino); got != body {
		t.Fatalf("reads %d bytes, want %d", len(got), len(body))
	}
}
