package content

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/internal/testutil"
)

// TestDataFileDurableOnlyOnceSynced: a new data file, created or made
// from a spare, is gone after a power cut until Sync or SyncMany made
// its data and its name durable; then it holds what was written. Run
// on vfs.Mem, which keeps only what was synced.
func TestDataFileDurableOnlyOnceSynced(t *testing.T) {
	for _, target := range []int{0, SpareTarget} {
		t.Run(fmt.Sprint(target, "spares"), func(t *testing.T) {
			if target > 0 && !SparesSupported {
				t.Skip("spares are Linux only")
			}
			mem := vfs.NewMem()
			const dir = "/cache/data"
			// The cache's folder exists and is durable before the cache
			// starts; MakeDirs makes the data folder durable in it.
			if err := mem.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := vfs.SyncDir(mem, "/"); err != nil {
				t.Fatal(err)
			}
			ft := NewFiles(mem, dir, 16)
			if err := ft.MakeDirs(); err != nil {
				t.Fatal(err)
			}
			defer ft.Close()
			ft.SetSpareTarget(target)
			if target > 0 {
				write(t, ft, 1<<40, "starts the refiller")
				if !testutil.Poll(30*time.Second, func() bool { return ft.SparesReady() >= target }) {
					t.Fatalf("%d spares ready, want %d", ft.SparesReady(), target)
				}
			}

			write(t, ft, 7, "hello")
			if !ft.Fresh(7) {
				t.Fatal("a new data file is not fresh")
			}
			if _, err := mem.CrashClone().Stat(ft.Path(7)); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("unsynced data file after a power cut: %v", err)
			}
			if err := ft.Sync(7); err != nil {
				t.Fatal(err)
			}
			holds(t, mem.CrashClone(), ft.Path(7), "hello")

			// 8 and 0x108 share a folder, 9 has its own.
			inos := []Ino{8, 9, 0x108}
			for _, ino := range inos {
				write(t, ft, ino, fmt.Sprint("data of ", ino))
			}
			synced, err := ft.SyncMany(append(inos, 10)) // 10 has no data file
			if err != nil || len(synced) != 4 {
				t.Fatalf("SyncMany: %v synced, %v", synced, err)
			}
			crashed := mem.CrashClone()
			for _, ino := range inos {
				holds(t, crashed, ft.Path(ino), fmt.Sprint("data of ", ino))
				if ft.Fresh(ino) {
					t.Fatalf("inode %d still fresh after SyncMany", ino)
				}
			}
		})
	}
}

func write(t *testing.T, ft *Files, ino Ino, data string) {
	t.Helper()
	of, err := ft.Acquire(ino, true)
	if err != nil {
		t.Fatal(err)
	}
	defer ft.Release(of)
	if _, err := of.File.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
}

func holds(t *testing.T, fsys vfs.FS, p, want string) {
	t.Helper()
	f, err := fsys.OpenFile(p, 0, 0)
	if err != nil {
		t.Fatalf("after a power cut: %v", err)
	}
	defer f.Close()
	got := make([]byte, len(want)+1)
	n, _ := f.ReadAt(got, 0)
	if string(got[:n]) != want {
		t.Fatalf("%s holds %q after a power cut, want %q", p, got[:n], want)
	}
}
