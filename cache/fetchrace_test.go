package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
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
// the object must not be taken for chunks of the new version. They were,
// and the new version read zeros where its data file had none (the
// e2e TestCloudChanges grown.bin flake).
func TestFetchedChunksOfAnOldVersionAreNotRecorded(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	v1, v2 := randBytes(100<<10, 1), randBytes(chunkSize+17, 2)
	putObject(t, mem, "a-grown.bin", v1)
	// A listing merges in batches of loadBatch entries: the hook acts
	// between the batch holding a-grown.bin and the rest of the listing,
	// after the new version is recorded and before its stale local data
	// is dropped.
	for i := range loadBatch {
		putObject(t, mem, fmt.Sprintf("filler-%04d", i), []byte("x"))
	}
	s := &listHook{Store: mem, at: loadBatch - 1}
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
	during func()
}

func (s *getHook) Get(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	body, err := s.Store.Get(ctx, key, off, length)
	if err != nil || s.during == nil {
		return body, err
	}
	during := s.during
	s.during = nil
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
	v1, v2 := randBytes(100<<10, 1), randBytes(chunkSize+17, 2)
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
// evicts: every chunk a read returns is of some version of the file at
// that offset, never zeros (chunks of one read may be of different
// versions: a chunk is fetched by key, from whatever the object is by
// then, until a refresh notes the change). Once the changes stop, the
// file reads as its last version.
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
				for from := off; from < off+int64(n); {
					to := min((from/chunkSize+1)*chunkSize, off+int64(n))
					got := buf[from-off : to-off]
					ok := false
					for _, v := range versions {
						if to <= int64(len(v)) && bytes.Equal(got, v[from:to]) {
							ok = true
							break
						}
					}
					if !ok {
						t.Errorf("read of %d bytes at %d: bytes %d to %d are of no version: %.16q", n, off, from, to, got)
						return
					}
					from = to
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
	putObject(t, mem, "f", randBytes(chunkSize+5, 1))
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
