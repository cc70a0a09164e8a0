package cache

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// TestWriteAfterARemoveWritesNothing: a write whose file is removed
// after it found the file local, before it writes the data file, writes
// nothing: a write into the removed data file's place would make a new
// data file for an inode that no longer exists, and leave it there.
func TestWriteAfterARemoveWritesNothing(t *testing.T) {
	ctx := context.Background()
	c, _, ino := raceCache(t)
	onceAt(t, c, hookMadeLocal, ino, func() {
		if _, err := c.Remove(ctx, RootIno, "doc.txt"); err != nil {
			t.Error(err)
		}
	})
	if _, _, err := c.WriteAt(ctx, ino, []byte("OURS"), 0); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("write to a removed file: %v, want ESTALE", err)
	}
	if _, err := os.Stat(c.files.Path(ino)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the removed file's data file: %v, want none", err)
	}
}

// TestReadOverlappingADropReadsAgain: a read whose file takes a new
// version from the cloud after the read found it local, before it reads
// the data file, reads again: it does not serve the zeros of the data
// file made anew in place of the dropped one.
func TestReadOverlappingADropReadsAgain(t *testing.T) {
	c, mem, ino := raceCache(t)
	putObject(t, mem, "doc.txt", []byte(raceV2))
	refreshAt(t, c, hookReadLocal, ino)
	buf := make([]byte, len(raceV1))
	got, err := c.ReadAt(context.Background(), ino, buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if s := string(buf[:got]); s != raceV2[:got] {
		t.Fatalf("read %q, want the new version %q", s, raceV2[:len(buf)])
	}
}
