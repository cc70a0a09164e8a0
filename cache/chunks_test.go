package cache

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/internal/testutil"
)

func randBytes(n int, seed uint64) []byte {
	var key [32]byte
	key[0] = byte(seed)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func putObject(t *testing.T, s backend.Store, key string, body []byte) {
	t.Helper()
	if _, err := s.Put(context.Background(), key, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

func newSizedCache(t *testing.T, dir string, s backend.Store, tune func(*Config)) *Cache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = dir, s
	cfg.UploadDelay = 10 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestColdReadFetchesOnlyTheRange(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	body := randBytes(10*content.ChunkSize+123, 1)
	putObject(t, s, "big.bin", body)
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	a, err := c.Lookup(ctx, RootIno, "big.bin")
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	off := int64(5*content.ChunkSize + 10)
	if _, err := c.ReadAt(ctx, a.Ino, buf, off); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, body[off:off+100]) {
		t.Fatal("wrong bytes")
	}
	if got := c.Stats().RemoteReadBytes; got != content.ChunkSize {
		t.Fatalf("fetched %d bytes for a 100-byte read, want one chunk", got)
	}
	// The same range again is a hit.
	if _, err := c.ReadAt(ctx, a.Ino, buf, off); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.RemoteReadBytes != content.ChunkSize || st.Misses != 1 {
		t.Fatalf("second read: %+v", st)
	}
	// A read across the tail chunk.
	tail := make([]byte, 200)
	n, err := c.ReadAt(ctx, a.Ino, tail, int64(len(body)-150))
	if n != 150 || !bytes.Equal(tail[:n], body[len(body)-150:]) || err == nil {
		t.Fatalf("tail read n=%d err=%v", n, err)
	}
	// Writing makes the whole file local and keeps fetched chunks.
	mustWrite(t, c, a.Ino, 0, "HEAD")
	want := append([]byte("HEAD"), body[4:]...)
	if got := readAll(t, c, a.Ino); got != string(want) {
		t.Fatal("content after write differs")
	}
	flush(t, c)
	if got := storeBody(t, s, "big.bin"); got != string(want) {
		t.Fatal("uploaded content differs")
	}
}

func TestSequentialReadAhead(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	body := randBytes(20*content.ChunkSize, 2)
	putObject(t, s, "seq.bin", body)
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.ReadAheadBytes = 4 * content.ChunkSize })
	a, _ := c.Lookup(ctx, RootIno, "seq.bin")
	buf := make([]byte, 64<<10)
	var out []byte
	for off := int64(0); off < int64(len(body)); off += int64(len(buf)) {
		n, _ := c.ReadAt(ctx, a.Ino, buf, off)
		out = append(out, buf[:n]...)
	}
	if !bytes.Equal(out, body) {
		t.Fatal("sequential read differs")
	}
	st := c.Stats()
	if st.Misses >= 20 {
		t.Fatalf("read-ahead never got ahead: %d misses for 20 chunks", st.Misses)
	}
}

func TestEvictionUnderPressure(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	const files = 12
	for i := range files {
		putObject(t, s, "f"+string(rune('a'+i)), randBytes(content.ChunkSize, uint64(i)))
	}
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) {
		cfg.MaxBytes, cfg.HighWater, cfg.LowWater = 4*content.ChunkSize, 0.9, 0.5
		cfg.ReadAheadBytes = 0
	})
	// A dirty file that must survive every eviction.
	d := mustCreate(t, c, RootIno, "dirty")
	mustWrite(t, c, d.Ino, 0, strings.Repeat("d", content.ChunkSize))
	for i := range files {
		a, err := c.Lookup(ctx, RootIno, "f"+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, c, a.Ino)
	}
	testutil.Poll(5*time.Second, func() bool {
		c.lru.Kick()
		return c.UsedBytes() <= c.lru.High()
	})
	if used := c.UsedBytes(); used > c.lru.High() {
		t.Fatalf("used %d bytes, high mark %d", used, c.lru.High())
	}
	if c.Stats().Evictions == 0 {
		t.Fatal("nothing evicted")
	}
	// Evicted files read back right, from the backend.
	for i := range files {
		a, _ := c.Lookup(ctx, RootIno, "f"+string(rune('a'+i)))
		if got := readAll(t, c, a.Ino); got != string(randBytes(content.ChunkSize, uint64(i))) {
			t.Fatalf("file %d differs after eviction", i)
		}
	}
	if got := readAll(t, c, d.Ino); got != strings.Repeat("d", content.ChunkSize) {
		t.Fatal("dirty file lost")
	}
}

func TestDirtyLimit(t *testing.T) {
	ctx := context.Background()
	s := memstore.New()
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) {
		cfg.DirtyLimitBytes = 1000
		cfg.UploadDelay = time.Hour // nothing drains
	})
	f := mustCreate(t, c, RootIno, "f")
	if _, _, err := c.WriteAt(ctx, f.Ino, make([]byte, 900), 0); err != nil {
		t.Fatal(err)
	}
	g := mustCreate(t, c, RootIno, "g")
	if _, _, err := c.WriteAt(ctx, g.Ino, make([]byte, 200), 0); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past the dirty limit: %v", err)
	}
	// Overwriting within the dirty size is fine.
	if _, _, err := c.WriteAt(ctx, f.Ino, make([]byte, 100), 0); err != nil {
		t.Fatal(err)
	}
	if c.DirtyBytes() != 900 {
		t.Fatalf("dirty bytes %d", c.DirtyBytes())
	}
	flush(t, c)
	if c.DirtyBytes() != 0 {
		t.Fatalf("dirty bytes after flush %d", c.DirtyBytes())
	}
	if _, _, err := c.WriteAt(ctx, g.Ino, make([]byte, 200), 0); err != nil {
		t.Fatalf("after drain: %v", err)
	}
	// A single file bigger than the limit may still be written.
	if _, _, err := c.WriteAt(ctx, g.Ino, make([]byte, 5000), 0); err != nil {
		t.Fatalf("lone big file: %v", err)
	}
}

func TestRestartWithoutDataFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := memstore.New()
	body := randBytes(3*content.ChunkSize, 3)
	putObject(t, s, "remote.bin", body)
	// Uploads wait, so local.txt is only here when the data goes.
	hold := func(cfg *Config) { cfg.UploadDelay = time.Hour }
	c := newSizedCache(t, dir, s, hold)
	a, _ := c.Lookup(ctx, RootIno, "remote.bin")
	if got := readAll(t, c, a.Ino); got != string(body) {
		t.Fatal("first read differs")
	}
	local := mustCreate(t, c, RootIno, "local.txt")
	mustWrite(t, c, local.Ino, 0, "only here")
	c.Close()
	// The data folder is lost (a disk replaced, a careless rm).
	if err := os.RemoveAll(dir + "/data"); err != nil {
		t.Fatal(err)
	}
	c2 := newSizedCache(t, dir, s, hold)
	if got := readAll(t, c2, a.Ino); got != string(body) {
		t.Fatal("clean file not fetched again after its data file vanished")
	}
	got, err := c2.GetAttr(ctx, local.Ino)
	if err != nil || got.Size != 0 {
		t.Fatalf("lost local file %+v %v: want empty, never zeros", got, err)
	}
}

func TestSyncPolicy(t *testing.T) {
	for _, interval := range []time.Duration{0, 30 * time.Millisecond} {
		t.Run(interval.String(), func(t *testing.T) {
			c := newSizedCache(t, t.TempDir(), memstore.New(), func(cfg *Config) {
				cfg.SyncInterval = interval
				cfg.UploadDelay = time.Hour
			})
			f := mustCreate(t, c, RootIno, "f")
			// Too large to be committed in the database (inline.go).
			mustWrite(t, c, f.Ino, 0, strings.Repeat("x", content.InlineMaxBytes+1))
			base := c.Stats().DataSyncs
			for i := range 20 {
				mustWrite(t, c, f.Ino, int64(i), "x")
			}
			syncs := c.Stats().DataSyncs - base
			if interval == 0 {
				if syncs != 20 {
					t.Fatalf("%d fsyncs for 20 commits, want one each", syncs)
				}
				return
			}
			if syncs >= 20 {
				t.Fatalf("%d fsyncs for 20 commits with a sync interval", syncs)
			}
			if !testutil.Poll(5*time.Second, func() bool { return c.Stats().DataSyncs-base != syncs }) {
				t.Fatal("pending commits never synced")
			}
		})
	}
}

func TestFetchedChunksSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := memstore.New()
	body := randBytes(4*content.ChunkSize, 9)
	putObject(t, s, "f.bin", body)
	c := newSizedCache(t, dir, s, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	a, _ := c.Lookup(ctx, RootIno, "f.bin")
	buf := make([]byte, 10)
	if _, err := c.ReadAt(ctx, a.Ino, buf, 2*content.ChunkSize); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2 := newSizedCache(t, dir, s, func(cfg *Config) { cfg.ReadAheadBytes = 0 })
	if _, err := c2.ReadAt(ctx, a.Ino, buf, 2*content.ChunkSize); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf, body[2*content.ChunkSize:2*content.ChunkSize+10]) {
		t.Fatal("wrong bytes after restart")
	}
	if got := c2.Stats().RemoteReadBytes; got != 0 {
		t.Fatalf("fetched %d bytes again after restart", got)
	}
	if used := c2.UsedBytes(); used != content.ChunkSize {
		t.Fatalf("accounted %d bytes, want one chunk", used)
	}
}
