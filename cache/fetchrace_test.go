package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/refresh"
)

// listHook runs before calls to the callback of a List: before the
// call of index at, and after it.
type listHook struct {
	backend.Store
	at            int
	before, after func()
}

func (s *listHook) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	i := 0
	return s.Store.List(ctx, opts, func(o backend.ObjectInfo) error {
		defer func() { i++ }()
		if i != s.at || s.before == nil {
			return fn(o)
		}
		before, after := s.before, s.after
		s.before, s.after = nil, nil
		before()
		err := fn(o)
		after()
		return err
	})
}

// TestFetchedChunksOfAnOldVersionAreNotRecorded: fetched chunks whose
// recording (persistChunks) lands after a refresh noted a new version of
// the object must not be taken for chunks of the new version, or the new
// version would read zeros where its data file has none.
func TestFetchedChunksOfAnOldVersionAreNotRecorded(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	v1, v2 := randBytes(100<<10, 1), randBytes(content.ChunkSize+17, 2)
	putObject(t, mem, "a-grown.bin", v1)
	// A listing merges in batches of refresh.LoadBatch entries: the hook acts
	// between the batch holding a-grown.bin and the rest of the listing.
	// (The merge recorded the new version there, and the drop of the old
	// content came after the listing; now both come after it, in one
	// step, so the chunks recorded here are the old version's, dropped
	// with it.)
	for i := range refresh.LoadBatch {
		putObject(t, mem, fmt.Sprintf("filler-%04d", i), []byte("x"))
	}
	s := &listHook{Store: mem, at: refresh.LoadBatch - 1}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	a, err := c.Lookup(ctx, RootIno, "a-grown.bin")
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, mem, "a-grown.bin", v2)
	s.before = func() {
		// Fetched for the version the namespace holds (100 KiB) and
		// not yet recorded in the database.
		buf := make([]byte, 10)
		if _, err := c.ReadAt(ctx, a.Ino, buf, 0); err != nil {
			t.Error(err)
		}
	}
	s.after = func() {
		// The batch naming the new version is merged; the periodic
		// recording of fetched chunks runs now.
		if err := c.persistChunks(a.Ino); err != nil {
			t.Error(err)
		}
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if s.before != nil {
		t.Fatal("the hook did not run")
	}
	if got := readAll(t, c, a.Ino); !bytes.Equal([]byte(got), v2) {
		t.Fatalf("after the change: %d bytes %.20q, want %d bytes %.20q", len(got), got, len(v2), v2)
	}
}

// getHook runs during once, inside a Get, after the body was read and
// before it is returned.
type getHook struct {
	backend.Store
	mu     sync.Mutex
	during func()
}

func (s *getHook) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	body, err := s.Store.Get(ctx, key, off, length, etag)
	if err != nil {
		return body, err
	}
	s.mu.Lock()
	during := s.during
	s.during = nil
	s.mu.Unlock()
	if during == nil {
		return body, nil
	}
	b, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return nil, err
	}
	during()
	return io.NopCloser(bytes.NewReader(b)), nil
}

// TestFetchAcrossARefreshIsNotTakenForTheNewVersion: a chunk fetched
// from the old version of an object while a refresh notes a new one is
// never marked present for the new version.
func TestFetchAcrossARefreshIsNotTakenForTheNewVersion(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	v1, v2 := randBytes(100<<10, 1), randBytes(content.ChunkSize+17, 2)
	putObject(t, mem, "grown.bin", v1)
	s := &getHook{Store: mem}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	a, err := c.Lookup(ctx, RootIno, "grown.bin")
	if err != nil {
		t.Fatal(err)
	}
	s.during = func() {
		putObject(t, mem, "grown.bin", v2)
		if err := c.Refresh(ctx, RootIno); err != nil {
			t.Error(err)
		}
	}
	// The read that was in flight may see either version.
	buf := make([]byte, 100)
	if _, err := c.ReadAt(ctx, a.Ino, buf, 0); err != nil {
		t.Fatal(err)
	}
	if s.during != nil {
		t.Fatal("the hook did not run")
	}
	if !bytes.Equal(buf, v1[:100]) && !bytes.Equal(buf, v2[:100]) {
		t.Fatalf("read in flight across the change: %.20q, in neither version", buf)
	}
	if got := readAll(t, c, a.Ino); !bytes.Equal([]byte(got), v2) {
		t.Fatalf("after the change: %d bytes %.20q, want %d bytes %.20q", len(got), got, len(v2), v2)
	}
	// Once recorded as well.
	c.persistAll()
	if got := readAll(t, c, a.Ino); !bytes.Equal([]byte(got), v2) {
		t.Fatalf("after recording: %d bytes %.20q, want %d bytes %.20q", len(got), got, len(v2), v2)
	}
}

// TestReadsWhileTheCloudChanges reads a file while it keeps changing in
// the cloud and the gateway refreshes, records fetched chunks and
// evicts: every read returns bytes of one version of the file at that
// offset, never zeros and never chunks of two versions (a chunk is
// fetched for the version the cache holds, and a fetch that finds
// another version takes it and starts the read over). Once the changes
// stop, the file reads as its last version.
func TestReadsWhileTheCloudChanges(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	const rounds = 40
	versions := make([][]byte, rounds)
	for k := range versions {
		versions[k] = randBytes(100<<10+k*97<<10, uint64(k+1))
	}
	putObject(t, mem, "f", versions[0])
	c := newSizedCache(t, t.TempDir(), mem, nil)
	a, err := c.Lookup(ctx, RootIno, "f")
	if err != nil {
		t.Fatal(err)
	}
	var latest atomic.Int64 // the newest version put
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for k := 1; k < rounds; k++ {
			putObject(t, mem, "f", versions[k])
			latest.Store(int64(k))
			if err := c.Refresh(ctx, RootIno); err != nil {
				t.Error(err)
				return
			}
			switch k % 3 {
			case 0:
				c.persistAll()
			case 1:
				c.evictTo(0)
			}
		}
	}()
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 7))
			buf := make([]byte, 48<<10)
			for {
				select {
				case <-done:
					return
				default:
				}
				size := int64(len(versions[latest.Load()]))
				off := rng.Int64N(size)
				n, err := c.ReadAt(ctx, a.Ino, buf, off)
				if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, syscall.EAGAIN) {
					t.Error(err)
					return
				}
				ok := false
				for _, v := range versions {
					if off+int64(n) <= int64(len(v)) && bytes.Equal(buf[:n], v[off:off+int64(n)]) {
						ok = true
						break
					}
				}
				if !ok {
					t.Errorf("read of %d bytes at %d is of no one version: %.16q", n, off, buf[:n])
					return
				}
			}
		}()
	}
	wg.Wait()
	if got := readAll(t, c, a.Ino); !bytes.Equal([]byte(got), versions[rounds-1]) {
		t.Fatalf("after the changes: %d bytes %.20q, want %d bytes", len(got), got, len(versions[rounds-1]))
	}
}

// TestShrunkObjectIsNoZeros: an object found shorter than the size the
// namespace holds changed in the cloud; its missing bytes are not served
// as zeros, and once the directory is listed again it reads anew.
func TestShrunkObjectIsNoZeros(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	putObject(t, mem, "f", randBytes(content.ChunkSize+5, 1))
	c := newSizedCache(t, t.TempDir(), mem, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	a, err := c.Lookup(ctx, RootIno, "f")
	if err != nil {
		t.Fatal(err)
	}
	putObject(t, mem, "f", []byte("short now"))
	buf := make([]byte, 4096)
	// The read fails, or (when the refresh it starts is quick) reads
	// the new version.
	n, err := c.ReadAt(ctx, a.Ino, buf, 0)
	if !errors.Is(err, syscall.EAGAIN) && (string(buf[:n]) != "short now" || !errors.Is(err, io.EOF)) {
		t.Fatalf("read of an object shorter than recorded: %d bytes %.20q, %v; want EAGAIN or the new version", n, buf[:n], err)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, a.Ino); got != "short now" {
		t.Fatalf("after the refresh: %q", got)
	}
}

// TestChunksOfTwoVersionsAreNeverMixed: an object overwritten in the
// cloud between the fetches of two of its chunks (no refresh noted it)
// never reads, nor is written and uploaded, as chunks of both versions:
// the fetch that finds another version takes it, and the read starts
// over with it.
func TestChunksOfTwoVersionsAreNeverMixed(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	// Of one size, so that only the version tells them apart.
	v1, v2, v3 := randBytes(3*content.ChunkSize, 1), randBytes(3*content.ChunkSize, 2), randBytes(3*content.ChunkSize, 3)
	putObject(t, mem, "f", v1)
	s := &getHook{Store: mem}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) {
		cfg.ReadAheadBytes = 0
		cfg.UploadDelay = time.Hour
	})
	a, err := c.Lookup(ctx, RootIno, "f")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if _, err := c.ReadAt(ctx, a.Ino, buf, 0); err != nil || !bytes.Equal(buf, v1[:100]) {
		t.Fatalf("first chunk: %.20q, %v", buf, err)
	}
	// A read across chunks 0 (cached, v1) and 1 (not yet fetched).
	putObject(t, mem, "f", v2)
	off := int64(content.ChunkSize - 50)
	if _, err := c.ReadAt(ctx, a.Ino, buf, off); err != nil || !bytes.Equal(buf, v2[off:off+100]) {
		t.Fatalf("read across chunks after the overwrite: v1 %v, v1 then v2 %v, v2 %v, %v",
			bytes.Equal(buf, v1[off:off+100]), bytes.Equal(buf[:50], v1[off:off+50]), bytes.Equal(buf, v2[off:off+100]), err)
	}
	// A write fetches what is missing (chunk 2) to make the file whole.
	putObject(t, mem, "f", v3)
	if _, _, err := c.WriteAt(ctx, a.Ino, []byte("X"), 3*content.ChunkSize); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := storeBody(t, mem, "f"); got != string(v3)+"X" {
		t.Fatalf("uploaded after a write: v3 %v, v2 at the start %v", strings.HasPrefix(got, string(v3)), strings.HasPrefix(got, string(v2[:100])))
	}

	// Overwritten while one read fetches its chunks.
	putObject(t, mem, "g", v1)
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	g, err := c.Lookup(ctx, RootIno, "g")
	if err != nil {
		t.Fatal(err)
	}
	s.during = func() { putObject(t, mem, "g", v2) }
	whole := make([]byte, 3*content.ChunkSize)
	n, err := c.ReadAt(ctx, g.Ino, whole, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if s.during != nil {
		t.Fatal("the hook did not run")
	}
	if n != len(whole) || !bytes.Equal(whole, v1) && !bytes.Equal(whole, v2) {
		t.Fatalf("read across the overwrite: %d bytes, of neither version whole", n)
	}
	if err := c.Refresh(ctx, RootIno); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, g.Ino); !bytes.Equal([]byte(got), v2) {
		t.Fatal("after the overwrite and a refresh: not v2")
	}
}
