package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/posix"
)

// BenchmarkCreate measures one file create in the namespace database.
func BenchmarkCreate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = b.TempDir(), memstore.New()
	c, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, _, err := c.Create(context.Background(), RootIno, fmt.Sprintf("f%d", i), NewAttr{Mode: 0o644}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkReadHit measures a 64 KiB read of a cached file.
func BenchmarkReadHit(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = b.TempDir(), memstore.New()
	c, err := New(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	a, _, err := c.Create(ctx, RootIno, "f", NewAttr{Mode: 0o644})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < 16<<20; off += int64(len(buf)) {
		if _, _, err := c.WriteAt(ctx, a.Ino, buf, off); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	off := int64(0)
	for b.Loop() {
		if _, err := c.ReadAt(ctx, a.Ino, buf, off); err != nil && !errors.Is(err, io.EOF) {
			b.Fatal(err)
		}
		off = (off + int64(len(buf))) % (16 << 20)
	}
}

// BenchmarkColdRead measures a sequential read, in 1 MiB requests, of a
// 64 MiB file the cache does not hold, from a POSIX backend.
func BenchmarkColdRead(b *testing.B) {
	ctx := context.Background()
	store, err := posix.New(posix.Config{Root: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	body := make([]byte, size)
	if _, err := store.Put(ctx, "cold.bin", bytes.NewReader(body), size, nil); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		cfg := DefaultConfig()
		cfg.Dir, cfg.Store = b.TempDir(), store
		c, err := New(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.Lookup(ctx, RootIno, "cold.bin")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for off := int64(0); off < size; off += int64(len(buf)) {
			if _, err := c.ReadAt(ctx, a.Ino, buf, off); err != nil && !errors.Is(err, io.EOF) {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}
