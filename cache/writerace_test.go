package cache

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
)

// onceAt sets c's test hook to run fn the first time an operation on
// ino reaches p, and fails the test at its end if it never did.
func onceAt(t *testing.T, c *Cache, p hookPoint, ino Ino, fn func()) {
	t.Helper()
	ran := make(chan struct{})
	c.hooks.set(func(at hookPoint, i Ino) {
		if at != p || i != ino {
			return
		}
		select {
		case <-ran:
			return
		default:
		}
		close(ran)
		fn()
	})
	t.Cleanup(func() {
		c.hooks.set(nil)
		select {
		case <-ran:
		default:
			t.Error("the hook did not run")
		}
	})
}

// conflictCopies returns the bodies of the conflict copies of
// NAME.EXT in the root of s.
func conflictCopies(t *testing.T, s backend.Store, name string) []string {
	t.Helper()
	var keys []string
	err := s.List(context.Background(), backend.ListOptions{Prefix: name + ".conflict-"}, func(o backend.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for _, k := range keys {
		bodies = append(bodies, storeBody(t, s, k))
	}
	return bodies
}

// wantBoth checks that the backend holds ours at key and theirs in one
// conflict copy beside it: the documented rule when a file changed both
// here and in the cloud.
func wantBoth(t *testing.T, s backend.Store, key, ours, theirs string) {
	t.Helper()
	if got := storeBody(t, s, key); got != ours {
		t.Errorf("backend %s = %.40q, want ours %.40q", key, got, ours)
	}
	name := strings.TrimSuffix(key, ".txt")
	if got := conflictCopies(t, s, name); len(got) != 1 || got[0] != theirs {
		t.Errorf("conflict copies of %s = %.40q, want one with theirs %.40q", key, got, theirs)
	}
}

// raceV1 and raceV2 are doc.txt's first version and the cloud's second.
const (
	raceV1 = "version one of the document"
	raceV2 = "theirs: the cloud's second version"
)

// raceCache is a cache over a new memstore holding doc.txt (raceV1)
// wholly local and clean, with uploads only at Flush.
func raceCache(t *testing.T) (*Cache, *memstore.Store, Ino) {
	t.Helper()
	mem := memstore.New()
	putObject(t, mem, "doc.txt", []byte(raceV1))
	c := newSizedCache(t, t.TempDir(), mem, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	a, err := c.Lookup(context.Background(), RootIno, "doc.txt")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, a.Ino); got != raceV1 {
		t.Fatalf("doc.txt reads %q", got)
	}
	return c, mem, a.Ino
}

// refreshAt has the first operation on ino that reaches p refresh the
// root, the cloud's change then noted in the middle of that operation.
func refreshAt(t *testing.T, c *Cache, p hookPoint, ino Ino) {
	t.Helper()
	onceAt(t, c, p, ino, func() {
		if err := c.Refresh(context.Background(), RootIno); err != nil {
			t.Error(err)
		}
	})
}

// unstableRace writes OURS at 0 and MORE at 5 UNSTABLE, running during
// between the upload that makes the file clean and the unstable write,
// and returns the content the file must then have.
func unstableRace(t *testing.T, c *Cache, ino Ino, during func()) string {
	t.Helper()
	ctx := context.Background()
	if _, _, err := c.WriteAt(ctx, ino, []byte("OURS"), 0); err != nil {
		t.Fatal(err)
	}
	onceAt(t, c, hookUnstableReady, ino, func() {
		flush(t, c) // the upload makes the file clean
		during()
	})
	if _, _, err := c.WriteUnstable(ctx, ino, []byte("MORE"), 5); err != nil {
		t.Fatal(err)
	}
	return "OURS" + raceV1[4:5] + "MORE" + raceV1[9:]
}

// wantKept checks that ino reads ours here and, after a flush, that the
// backend holds ours at doc.txt and raceV2 in a conflict copy beside it.
func wantKept(t *testing.T, c *Cache, mem *memstore.Store, ino Ino, ours string) {
	t.Helper()
	if got := readAll(t, c, ino); got != ours {
		t.Fatalf("reads %q, want %q", got, ours)
	}
	flush(t, c)
	wantBoth(t, mem, "doc.txt", ours, raceV2)
}

// TestWriteRacingACloudChangeIsKept: a WRITE whose file changed in the
// cloud while it was being written (a refresh noted the change between
// the write of the data file and the dirty mark) is uploaded, and the
// cloud's version kept beside it, rather than lost: a refresh that drops
// the file's local content would leave the write marking dirty a file no
// longer local, which the upload skips.
func TestWriteRacingACloudChangeIsKept(t *testing.T) {
	ctx := context.Background()
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	refreshAt(t, c, hookWritten, ino)
	if _, _, err := c.WriteAt(ctx, ino, []byte("OURS"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, ino); err != nil {
		t.Fatal(err)
	}
	wantKept(t, c, mem, ino, "OURS"+raceV1[4:])
}

// TestUnstableWriteRacingACloudChangeIsKept: an UNSTABLE write to a
// file whose upload finished and whose object then changed in the cloud,
// all between WriteUnstable's check that the file is dirty and its
// write, is kept by the COMMIT that follows: the refresh must not drop
// the file under it.
func TestUnstableWriteRacingACloudChangeIsKept(t *testing.T) {
	ctx := context.Background()
	c, mem, ino := raceCache(t)
	ours := unstableRace(t, c, ino, func() {
		putObject(t, mem, "doc.txt", []byte(raceV2))
		if err := c.Refresh(ctx, RootIno); err != nil {
			t.Error(err)
		}
	})
	if _, err := c.Commit(ctx, ino); err != nil {
		t.Fatal(err)
	}
	wantKept(t, c, mem, ino, ours)
}

// TestTruncateRacingACloudChangeIsKept: a SETATTR of the size whose
// file changed in the cloud between the truncate of the data file and
// the transaction storing the size is uploaded, the cloud's version kept
// beside it.
func TestTruncateRacingACloudChangeIsKept(t *testing.T) {
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	refreshAt(t, c, hookWritten, ino)
	size := int64(7)
	if _, err := c.SetAttr(context.Background(), ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	wantKept(t, c, mem, ino, raceV1[:7])
}

// TestTruncateRacingEvictionIsKept: a truncate is not undone by an
// eviction between the truncate of the data file and the transaction
// storing the size (the file is not dirty yet, so eviction would take
// it, and the size would then be stored for content no longer local).
func TestTruncateRacingEvictionIsKept(t *testing.T) {
	c, mem, ino := raceCache(t)
	onceAt(t, c, hookWritten, ino, func() { c.evictTo(0) })
	size := int64(7)
	if _, err := c.SetAttr(context.Background(), ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, ino); got != raceV1[:7] {
		t.Fatalf("reads %q, want %q", got, raceV1[:7])
	}
	flush(t, c)
	if got := storeBody(t, mem, "doc.txt"); got != raceV1[:7] {
		t.Fatalf("backend has %q, want %q", got, raceV1[:7])
	}
}

// TestWriteBeforeTheNewVersionIsKept: a write that completes after a
// refresh listed a change and before it gives the file the new version
// wins; the cloud's version is kept beside it.
func TestWriteBeforeTheNewVersionIsKept(t *testing.T) {
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	onceAt(t, c, hookNewVersion, ino, func() { mustWrite(t, c, ino, 0, "OURS") })
	if err := c.Refresh(context.Background(), RootIno); err != nil {
		t.Fatal(err)
	}
	wantKept(t, c, mem, ino, "OURS"+raceV1[4:])
}

// TestSafeSaveWhileTheCloudChanges: an office "safe save" (rename the
// file aside, write a new one under its name) while a refresh gives the
// old file the cloud's new version: the new file is uploaded, and the
// cloud's version survives under the name the old file moved to.
func TestSafeSaveWhileTheCloudChanges(t *testing.T) {
	ctx := context.Background()
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	onceAt(t, c, hookNewVersion, ino, func() {
		if _, _, err := c.Rename(ctx, RootIno, "doc.txt", RootIno, "doc.bak"); err != nil {
			t.Error(err)
		}
		f := mustCreate(t, c, RootIno, "doc.txt")
		mustWrite(t, c, f.Ino, 0, "saved here")
	})
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := storeBody(t, mem, "doc.txt"); got != "saved here" {
		t.Errorf("backend doc.txt = %q", got)
	}
	if got := storeBody(t, mem, "doc.bak"); got != raceV2 {
		t.Errorf("backend doc.bak = %q, want the cloud's version", got)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, ino); got != raceV2 {
		t.Errorf("doc.bak reads %q after a refresh, want the cloud's version", got)
	}
}

// TestUnstableWriteRacingACloudDeleteIsKept: an UNSTABLE write to a
// file deleted in the cloud right after its upload (as in
// TestUnstableWriteRacingACloudChangeIsKept) is kept by the COMMIT that
// follows, and uploaded again: the refresh does not remove a file with
// a write in flight or unstable writes pending.
func TestUnstableWriteRacingACloudDeleteIsKept(t *testing.T) {
	ctx := context.Background()
	c, mem, ino := raceCache(t)
	ours := unstableRace(t, c, ino, func() {
		if err := mem.Delete(ctx, "doc.txt"); err != nil {
			t.Error(err)
		}
		if err := c.Refresh(ctx, RootIno); err != nil {
			t.Error(err)
		}
	})
	// Once the write is pending, a refresh leaves the file too.
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, ino); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, ino); got != ours {
		t.Fatalf("reads %q, want %q", got, ours)
	}
	flush(t, c)
	if got := storeBody(t, mem, "doc.txt"); got != ours {
		t.Fatalf("backend has %q, want %q", got, ours)
	}
}

// TestRefreshKeepsAFileUploadedDuringTheListing: a file written here and
// uploaded while a refresh lists its directory is not in that listing;
// the refresh must not take it for deleted in the cloud (it removed it,
// and its handles went stale).
func TestRefreshKeepsAFileUploadedDuringTheListing(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	putObject(t, mem, "old.txt", []byte("old"))
	s := &hookList{Store: mem}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	if _, err := c.Lookup(ctx, RootIno, "old.txt"); err != nil {
		t.Fatal(err)
	}
	f := mustCreate(t, c, RootIno, "mine.txt")
	mustWrite(t, c, f.Ino, 0, "local")
	s.during = func() { flush(t, c) }
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if s.during != nil {
		t.Fatal("the hook did not run")
	}
	if got := readAll(t, c, f.Ino); got != "local" {
		t.Fatalf("reads %q", got)
	}
	if _, err := c.Lookup(ctx, RootIno, "mine.txt"); err != nil {
		t.Fatal(err)
	}
}
