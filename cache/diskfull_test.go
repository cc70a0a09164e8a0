package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/internal/testutil"
)

// smallDisk mounts a tmpfs of size bytes for the test (testutil.SmallDisk).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	return testutil.SmallDisk(t, size)
}

// waitFree waits until the filesystem of dir has bytes free.
func waitFree(t *testing.T, dir string, bytes uint64) {
	t.Helper()
	var free uint64
	if !testutil.Poll(10*time.Second, func() bool {
		var st syscall.Statfs_t
		if err := syscall.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		free = st.Bavail * uint64(st.Bsize)
		return free >= bytes
	}) {
		t.Fatalf("%d bytes free after the remove, want %d", free, bytes)
	}
}

// TestCacheDiskFull fills a real disk: a small tmpfs holding the
// namespace database and the data files.
func TestCacheDiskFull(t *testing.T) {
	dir := smallDisk(t, "6m")
	testDiskFull(t, dir, func(cfg *Config) {}, func(t *testing.T) { waitFree(t, dir, 1<<20) })
}

// TestCacheDiskFullMem fills the data files' file system, a vfs.Mem of
// 6 MiB, without root; the namespace database, on the test's disk,
// keeps room.
func TestCacheDiskFullMem(t *testing.T) {
	m := vfs.NewMem()
	m.SetCapacity(6 << 20)
	testDiskFull(t, t.TempDir(), func(cfg *Config) { cfg.FS = m }, func(t *testing.T) {
		if !testutil.Poll(10*time.Second, func() bool { return m.Used() <= 5<<20 }) {
			t.Fatalf("%d bytes used after the remove, want at most 5 MiB", m.Used())
		}
	})
}

// testDiskFull writes until the disk is full, checks that everything
// else keeps working, and that freeing space (waitFree returns once
// the space is free) lets writes through again.
func testDiskFull(t *testing.T, dir string, tune func(*Config), waitFree func(*testing.T)) {
	ctx := context.Background()
	s := memstore.New()
	newCache := func() *Cache {
		return newSizedCache(t, dir, s, func(cfg *Config) {
			cfg.UploadDelay = 10 * time.Millisecond
			cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
			tune(cfg)
		})
	}
	c := newCache()
	keep := mustCreate(t, c, RootIno, "keep")
	mustWrite(t, c, keep.Ino, 0, "precious")
	f := mustCreate(t, c, RootIno, "filler")
	buf := make([]byte, 256<<10)
	var werr error
	for off := int64(0); off < 64<<20; off += int64(len(buf)) {
		if _, _, werr = c.WriteAt(ctx, f.Ino, buf, off); werr != nil {
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
	// Freeing space lets writes through again, once the space is free: an
	// upload of the filler in flight holds its data file open until it
	// ends.
	if _, err := c.Remove(ctx, RootIno, "filler"); err != nil {
		t.Fatal(err)
	}
	waitFree(t)
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
	c2 := newCache()
	if got := readAll(t, c2, keep.Ino); got != "precious" {
		t.Fatalf("after restart keep reads %q", got)
	}
}

// TestNamespaceCommitsOnAFullDisk: with the cache disk full, the
// namespace database still commits (into the room ns.DB.Reserve keeps:
// half a megabyte here, which a hundred entries stay well within), so
// files can be made and, above all, removed to free space.
func TestNamespaceCommitsOnAFullDisk(t *testing.T) {
	ctx := context.Background()
	dir := smallDisk(t, "8m")
	c := newTestCache(t, dir, memstore.New())
	f, err := os.Create(dir + "/ballast")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for {
		if _, err = f.Write(buf); err != nil {
			break
		}
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("filling the disk: %v", err)
	}
	d := mustMkdir(t, c, RootIno, "d")
	for i := range 100 {
		mustCreate(t, c, d.Ino, fmt.Sprintf("entry-with-a-longish-name-%04d", i))
	}
	for i := range 100 {
		if _, err := c.Remove(ctx, d.Ino, fmt.Sprintf("entry-with-a-longish-name-%04d", i)); err != nil {
			t.Fatalf("remove on a full disk: %v", err)
		}
	}
}
