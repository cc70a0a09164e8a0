package main

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/nfsd"
)

// testServer serves a fresh cache (POSIX backend) with nfsd on loopback.
func testServer(t *testing.T) (feServer, *cache.Cache) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	store, err := posixStore(filepath.Join(t.TempDir(), "backend"))
	if err != nil {
		t.Fatal(err)
	}
	ccfg := cache.DefaultConfig()
	ccfg.Dir, ccfg.Store = t.TempDir(), store
	ccfg.UploadDelay = time.Hour
	c, err := cache.New(ctx, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ncfg := nfsd.DefaultConfig()
	ncfg.Export.Squash = nfsd.SquashNone
	srv, err := nfsd.New(ncfg, c)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ctx, l)
	t.Cleanup(func() { srv.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	return feServer{"nfsd", port, port, "/", func() {}, func(name string, n int) error {
		return fillCacheFolder(ctx, c, name, n)
	}}, c
}

// TestRawClientListsAndCreates checks the raw client's READDIR and
// READDIRPLUS over many small replies, GETATTR, and the create workload
// the single-request rows use, against our server.
func TestRawClientListsAndCreates(t *testing.T) {
	s, _ := testServer(t)
	const n = 1500
	if err := s.fillDir("big", n); err != nil {
		t.Fatal(err)
	}
	c, root, err := dialExport(s)
	if err != nil {
		t.Fatal(err)
	}
	defer c.nc.Close()
	dir, err := c.lookup(root, "big")
	if err != nil {
		t.Fatal(err)
	}
	for _, plus := range []bool{false, true} {
		got, err := c.listDir(dir, plus, 4096)
		if err != nil || got != n {
			t.Errorf("listDir(plus=%v) = %d, %v; want %d entries", plus, got, err, n)
		}
	}
	fh, err := c.lookup(dir, bigName(n-1))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.getattr(fh); err != nil {
		t.Error(err)
	}
	if _, err := c.lookup(dir, bigName(n)); err == nil {
		t.Errorf("LOOKUP of %s, which does not exist, succeeded", bigName(n))
	}

	for _, data := range [][]byte{nil, make([]byte, feCreateBytes)} {
		name := "empty"
		if data != nil {
			name = "small"
		}
		r, err := createFiles(s, name, 20, data)
		if err != nil {
			t.Fatal(err)
		}
		if r.v <= 0 || r.p50 <= 0 || r.p99 < r.p50 {
			t.Errorf("createFiles(%s) = %+v: want a rate and ordered percentiles", name, r)
		}
		d, err := c.lookup(root, name)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.listDir(d, true, 4096); err != nil || got != 20 {
			t.Errorf("%s holds %d files, %v; want 20", name, got, err)
		}
	}
}

func TestFeCell(t *testing.T) {
	for _, tc := range []struct {
		rs   []feResult
		rate float64
		cell string
	}{
		{nil, 0, "n/a"},
		{[]feResult{{v: 3}, {v: 1}, {v: 2}}, 2, "2"},
		{[]feResult{{v: 10, p50: 20 * time.Microsecond, p99: 12 * time.Millisecond}}, 10, "10 (p50 20 µs, p99 12.0 ms)"},
	} {
		rate, cell := feCell(tc.rs)
		if rate != tc.rate || cell != tc.cell {
			t.Errorf("feCell(%+v) = %v, %q; want %v, %q", tc.rs, rate, cell, tc.rate, tc.cell)
		}
	}
}
