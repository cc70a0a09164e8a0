package cache

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
)

// smallDisk mounts a tmpfs of size bytes for the test, as root; it
// skips elsewhere (CI runs as root and forbids skips).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("FILEGATE_TEST_NO_SKIP") != "" {
			t.Fatal("needs root to mount a small tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

func TestCacheDiskFull(t *testing.T) {
	ctx := context.Background()
	dir := smallDisk(t, "6m")
	s := memstore.New()
	c := newTestCache(t, dir, s)
	keep := mustCreate(t, c, RootIno, "keep")
	mustWrite(t, c, keep.Ino, 0, "precious")
	f := mustCreate(t, c, RootIno, "filler")
	buf := make([]byte, 256<<10)
	var werr error
	for off := int64(0); off < 64<<20; off += int64(len(buf)) {
		if _, werr = c.WriteAt(ctx, f.Ino, buf, off); werr != nil {
			break
		}
	}
	if !errors.Is(werr, syscall.ENOSPC) {
		t.Fatalf("writing past a full disk: %v, want ENOSPC", werr)
	}
	// Everything else keeps working.
	if got := readAll(t, c, keep.Ino); got != "precious" {
		t.Fatalf("keep reads %q", got)
	}
	if _, err := c.Lookup(ctx, RootIno, "keep"); err != nil {
		t.Fatal(err)
	}
	// Freeing space lets writes through again.
	if err := c.Remove(ctx, RootIno, "filler"); err != nil {
		t.Fatal(err)
	}
	g := mustCreate(t, c, RootIno, "after")
	mustWrite(t, c, g.Ino, 0, "room again")
	flush(t, c)
	if got := storeBody(t, s, "after"); got != "room again" {
		t.Fatalf("backend after = %q", got)
	}
	if got := storeBody(t, s, "keep"); got != "precious" {
		t.Fatalf("backend keep = %q", got)
	}
	c.Close()
	// And the cache opens again after it.
	c2 := newTestCache(t, dir, s)
	if got := readAll(t, c2, keep.Ino); got != "precious" {
		t.Fatalf("after restart keep reads %q", got)
	}
}
