package cache

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/internal/testutil"
)

// waitSpares waits until c holds n spares ready (the refiller runs in
// the background; a generous deadline only turns a hang into a failure).
func waitSpares(t *testing.T, c *Cache, n int) {
	t.Helper()
	var got int
	if !testutil.Poll(30*time.Second, func() bool {
		got = c.files.SparesReady()
		return got >= n
	}) {
		t.Fatalf("%d spares ready, want %d", got, n)
	}
}

func fileIno(t *testing.T, p string) uint64 {
	t.Helper()
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return st.Sys().(*syscall.Stat_t).Ino
}

// TestSpareTakenByFirstWrite: the first write to a new file links a
// spare into place: the data file is a former spare's inode, whose
// spare name the refiller then removes, and holds what was written.
func TestSpareTakenByFirstWrite(t *testing.T) {
	if !content.SparesSupported {
		t.Skip("spares are Linux only")
	}
	c := newTestCache(t, t.TempDir(), memstore.New())
	first := mustCreate(t, c, RootIno, "first")
	mustWrite(t, c, first.Ino, 0, "starts the refiller")
	waitSpares(t, c, content.SpareTarget)
	before := testutil.DirInodes(t, filepath.Join(c.dataDir, content.SpareDirName))
	if len(before) != content.SpareTarget {
		t.Fatalf("%d files in the spare folder, want %d", len(before), content.SpareTarget)
	}

	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "hello")
	ino := fileIno(t, c.files.Path(f.Ino))
	name, ok := before[ino]
	if !ok {
		t.Fatalf("data file inode %d is none of the spares %v", ino, before)
	}
	if !testutil.Poll(30*time.Second, func() bool {
		_, still := testutil.DirInodes(t, filepath.Join(c.dataDir, content.SpareDirName))[ino]
		return !still
	}) {
		t.Fatalf("spare %s still in the spare folder", name)
	}
	st, err := os.Stat(c.files.Path(f.Ino))
	if err != nil || st.Sys().(*syscall.Stat_t).Nlink != 1 {
		t.Fatalf("data file: %v, %v: want one name", st, err)
	}
	if got, err := os.ReadFile(c.files.Path(f.Ino)); err != nil || string(got) != "hello" {
		t.Fatalf("data file holds %q, %v", got, err)
	}
	if got := readAll(t, c, f.Ino); got != "hello" {
		t.Fatalf("read %q", got)
	}
	// Its name is not durable until its folder is synced, as for a
	// created file.
	fresh := c.files.Fresh(f.Ino)
	if !fresh {
		t.Fatal("a data file made from a spare is not fresh: its folder would never be synced")
	}
}

// TestSpareSurvivesReopen: data written through spares, small (inline
// at COMMIT) and large (data file synced at COMMIT), is there after
// Close and a new start, in the data files themselves.
func TestSpareSurvivesReopen(t *testing.T) {
	if !content.SparesSupported {
		t.Skip("spares are Linux only")
	}
	ctx := context.Background()
	dir, s := t.TempDir(), memstore.New()
	c := newTestCache(t, dir, s)
	mustWrite(t, c, mustCreate(t, c, RootIno, "first").Ino, 0, "starts the refiller")
	waitSpares(t, c, content.SpareTarget)
	spares := testutil.DirInodes(t, filepath.Join(c.dataDir, content.SpareDirName))

	small := mustCreate(t, c, RootIno, "small")
	large := mustCreate(t, c, RootIno, "large")
	big := bytes.Repeat([]byte("0123456789abcdef"), 16<<10) // 256 KiB
	want := map[Ino][]byte{small.Ino: []byte("small file"), large.Ino: big}
	for ino, data := range want {
		if _, _, err := c.WriteUnstable(ctx, ino, data[:1], 0); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.WriteUnstable(ctx, ino, data[1:], 1); err != nil {
			t.Fatal(err)
		}
		if _, ok := spares[fileIno(t, c.files.Path(ino))]; !ok {
			t.Fatalf("inode %d: data file is not a former spare", ino)
		}
		if _, err := c.Commit(ctx, ino); err != nil {
			t.Fatal(err)
		}
	}
	largeFresh := c.files.Fresh(large.Ino)
	if largeFresh {
		t.Fatal("a committed large file's folder was not synced")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	c2 := newTestCache(t, dir, s)
	for ino, data := range want {
		got, err := os.ReadFile(c2.files.Path(ino))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("inode %d: data file holds %d bytes (%v), want %d", ino, len(got), err, len(data))
		}
		if got := readAll(t, c2, ino); got != string(data) {
			t.Fatalf("inode %d reads %d bytes, want %d", ino, len(got), len(data))
		}
	}
}

// TestSpareLeftoversRemoved: what a crash left in the spare folder is
// removed at the next start, by unlinking: a leftover that is a second
// name of a data file (a rename whose source removal was lost) leaves
// the data file whole. The start-up sweep neither removes the spares
// nor counts them.
func TestSpareLeftoversRemoved(t *testing.T) {
	if !content.SparesSupported {
		t.Skip("spares are Linux only")
	}
	dir, s := t.TempDir(), memstore.New()
	c := newTestCache(t, dir, s)
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "precious")
	if _, err := c.Commit(context.Background(), f.Ino); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	spareDir := filepath.Join(dir, "data", content.SpareDirName)
	if err := os.WriteFile(filepath.Join(spareDir, "junk"), []byte("never acknowledged"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(spareDir, "d", "e"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(c.files.Path(f.Ino), filepath.Join(spareDir, "link")); err != nil {
		t.Fatal(err)
	}

	c2 := newTestCache(t, dir, s)
	if got := readAll(t, c2, f.Ino); got != "precious" {
		t.Fatalf("f reads %q", got)
	}
	used := c2.UsedBytes()
	if used != int64(len("precious")) {
		t.Fatalf("%d cached bytes counted, want %d", used, len("precious"))
	}
	g := mustCreate(t, c2, RootIno, "g")
	mustWrite(t, c2, g.Ino, 0, "starts the refiller")
	waitSpares(t, c2, content.SpareTarget)
	ents, err := os.ReadDir(spareDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "s") {
			t.Errorf("leftover %s still in the spare folder", e.Name())
		}
	}
	if len(ents) != content.SpareTarget {
		t.Errorf("%d files in the spare folder, want %d", len(ents), content.SpareTarget)
	}
	st, err := os.Stat(c2.files.Path(f.Ino))
	if err != nil {
		t.Fatal(err)
	}
	if n := st.Sys().(*syscall.Stat_t).Nlink; n != 1 {
		t.Fatalf("data file has %d links, want 1", n)
	}
	if got, err := os.ReadFile(c2.files.Path(f.Ino)); err != nil || string(got) != "precious" {
		t.Fatalf("data file holds %q, %v", got, err)
	}
	// A sweep at a later start leaves the spares of a running pool
	// alone (they are no inode's), and counts nothing for them.
	if err := c2.removeOrphans(map[Ino]bool{f.Ino: true, g.Ino: true}); err != nil {
		t.Fatal(err)
	}
	if n := len(testutil.DirInodes(t, filepath.Join(c2.dataDir, content.SpareDirName))); n != content.SpareTarget {
		t.Fatalf("%d spares left after the sweep, want %d", n, content.SpareTarget)
	}
}

// BenchmarkCreateSmallFile measures what an NFS client's small new file
// costs the cache: Create, one 4 KiB WriteUnstable, Commit; with spares
// and without (each data file created at its first write).
func BenchmarkCreateSmallFile(b *testing.B) {
	for _, target := range []int{content.SpareTarget, 0} {
		name := "spares"
		if target == 0 {
			name = "created"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			cfg := DefaultConfig()
			cfg.Dir, cfg.Store = b.TempDir(), memstore.New()
			c, err := New(ctx, cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			// No data file was made yet, so the pool has not started.
			c.files.SetSpareTarget(target)
			data := make([]byte, 4<<10)
			i := 0
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				a, _, err := c.Create(ctx, RootIno, "f"+strconv.Itoa(i), NewAttr{Mode: 0o644})
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := c.WriteUnstable(ctx, a.Ino, data, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := c.Commit(ctx, a.Ino); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
