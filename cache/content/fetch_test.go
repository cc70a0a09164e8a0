package content

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"syscall"
	"testing"

	"github.com/filegate/filegate/cache/vfs"
)

// fakeSource is one file's object, in memory, and its namespace state.
type fakeSource struct {
	fresh *Fresh
	data  []byte

	mu   sync.Mutex
	ver  Version
	gets []int64 // offsets asked for
	// bump changes the version at each Get, as a cloud tool rewriting
	// the object would.
	bump bool
}

func (s *fakeSource) Look(ino Ino, withKey bool) (State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := State{Ver: s.ver, Have: s.fresh.Overlay(ino, s.ver, nil)}
	if withKey {
		st.Key = "k"
	}
	return st, nil
}

func (s *fakeSource) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets = append(s.gets, off)
	if s.bump {
		s.ver.ETag += "+"
	}
	return io.NopCloser(bytes.NewReader(s.data[off : off+length])), nil
}

func (s *fakeSource) Changed(ctx context.Context, ino Ino, key string, ver Version) error { return nil }
func (s *fakeSource) Relist(ino Ino)                                                      {}

func newTestFetcher(t *testing.T, size int) (*Fetcher, *fakeSource, *Files, *LRU) {
	t.Helper()
	mem := vfs.NewMem()
	if err := mem.Mkdir("/data", 0o700); err != nil {
		t.Fatal(err)
	}
	files := NewFiles(mem, "/data", 16)
	files.SetSpareTarget(0)
	if err := files.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { files.Close() })
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i / ChunkSize)
	}
	src := &fakeSource{fresh: NewFresh(), data: data, ver: Version{"e", int64(size), 1}}
	lru := NewLRU(1<<40, 0.9, 0.8)
	f := NewFetcher(FetcherConfig{Source: src, Files: files, Fresh: src.fresh, LRU: lru, Concurrency: 4,
		Fetched: func(int) {}})
	return f, src, files, lru
}

// TestFetcherFetchesOnlyMissingChunks: a range is fetched chunk by
// chunk into the data file, marked fresh and accounted; chunks present
// are not fetched again.
func TestFetcherFetchesOnlyMissingChunks(t *testing.T) {
	f, src, files, lru := newTestFetcher(t, 3*ChunkSize+10)
	const ino = Ino(9)
	if _, err := f.EnsureRange(context.Background(), ino, ChunkSize+1, 2*ChunkSize+1); err != nil {
		t.Fatal(err)
	}
	if len(src.gets) != 2 || lru.Bytes(ino) != 2*ChunkSize {
		t.Fatalf("gets at %v, %d bytes accounted", src.gets, lru.Bytes(ino))
	}
	if _, err := f.EnsureRange(context.Background(), ino, 0, 4*ChunkSize); err != nil {
		t.Fatal(err)
	}
	if len(src.gets) != 4 || src.fresh.Count() != 4 || lru.Bytes(ino) != 3*ChunkSize+10 {
		t.Fatalf("gets at %v, %d fresh, %d bytes accounted", src.gets, src.fresh.Count(), lru.Bytes(ino))
	}
	of, err := files.Acquire(ino, false)
	if err != nil {
		t.Fatal(err)
	}
	defer files.Release(of)
	got := make([]byte, len(src.data))
	if _, err := of.File.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if !bytes.Equal(got, src.data) {
		t.Fatal("the data file does not hold the object")
	}
}

// TestFetcherGivesUpOnAnObjectChangingEachTime: a version that changes
// at every fetch writes nothing and ends in EAGAIN after three tries.
func TestFetcherGivesUpOnAnObjectChangingEachTime(t *testing.T) {
	f, src, _, _ := newTestFetcher(t, ChunkSize)
	src.bump = true
	_, err := f.EnsureRange(context.Background(), 3, 0, ChunkSize)
	if !errors.Is(err, ErrVersionChanged) || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("err %v, want a changed version and EAGAIN", err)
	}
	if len(src.gets) != 3 || src.fresh.Count() != 0 {
		t.Fatalf("%d gets, %d fresh chunks of stale versions", len(src.gets), src.fresh.Count())
	}
}
