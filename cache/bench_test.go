package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/filegate/filegate/backend/memstore"
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
		if _, err := c.Create(context.Background(), RootIno, fmt.Sprintf("f%d", i), NewAttr{Mode: 0o644}); err != nil {
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
	a, err := c.Create(ctx, RootIno, "f", NewAttr{Mode: 0o644})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for off := int64(0); off < 16<<20; off += int64(len(buf)) {
		if _, err := c.WriteAt(ctx, a.Ino, buf, off); err != nil {
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
