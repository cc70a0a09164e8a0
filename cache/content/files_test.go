package content

import (
	"os"
	"sync"
	"testing"

	"github.com/filegate/filegate/cache/vfs"
)

// TestRemoveRacingAcquire: an acquire racing remove never leaves the
// table holding a data file that is no longer in its place, or data
// written through it would vanish once it was closed and the chunks
// marked present would read as zeros.
func TestRemoveRacingAcquire(t *testing.T) {
	dir := t.TempDir()
	ft := NewFiles(vfs.OS, dir, 16)
	if err := ft.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	defer ft.Close()
	const ino = Ino(42)
	for i := range 2000 {
		of, err := ft.Acquire(ino, true)
		if err != nil {
			t.Fatal(err)
		}
		ft.Release(of)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := ft.Remove(ino); err != nil {
				t.Error(err)
			}
		}()
		of, err = ft.Acquire(ino, true)
		if err != nil {
			t.Fatal(err)
		}
		ft.Release(of)
		wg.Wait()
		ft.mu.Lock()
		held, ok := ft.files[ino]
		ft.mu.Unlock()
		if !ok {
			continue
		}
		open, err := held.File.Stat()
		if err != nil {
			t.Fatal(err)
		}
		placed, err := os.Stat(ft.Path(ino))
		if err != nil || !os.SameFile(open, placed) {
			t.Fatalf("round %d: the table holds a data file no longer in its place (%v)", i, err)
		}
	}
}
