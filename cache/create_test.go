package cache

import (
	"context"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/memstore"
)

// TestCreateWithTimes: times given to Create are the new file's, set in
// the one transaction that makes it (NFS's exclusive CREATE keeps its
// verifier there).
func TestCreateWithTimes(t *testing.T) {
	c := newTestCache(t, t.TempDir(), memstore.New())
	at, mt := time.Unix(1234, 0), time.Unix(5678, 0)
	if err := c.refresh.LoadDir(context.Background(), RootIno); err != nil {
		t.Fatal(err)
	}
	before := c.Stats().Commits
	a, _, err := c.Create(context.Background(), RootIno, "f", NewAttr{Mode: 0o600, Atime: at, Mtime: mt})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Commits - before; got != 1 {
		t.Fatalf("%d commits for a create", got)
	}
	if !a.Atime.Equal(at) || !a.Mtime.Equal(mt) {
		t.Fatalf("times %v %v, want %v %v", a.Atime, a.Mtime, at, mt)
	}
	if a, err = c.GetAttr(context.Background(), a.Ino); err != nil || !a.Mtime.Equal(mt) {
		t.Fatalf("stored %+v %v", a, err)
	}
}
