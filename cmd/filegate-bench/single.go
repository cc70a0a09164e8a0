package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/filegate/filegate/cache"
)

// The single-request rows of the frontends suite: one client, one
// connection, one request in flight, which is what an application waiting
// on each call sees (ls -l, git status, opening a document). Rows that
// time each request also give its latency's p50 and p99.
const (
	feSingleFor   = 1500 * time.Millisecond // timed loops of one row and round
	feBigDir      = "dir10k"
	feDirEntries  = 10000
	feDirReply    = 32 << 10 // READDIR count, READDIRPLUS dircount and maxcount
	feEmptyFiles  = 1000
	feFillWorkers = 8
)

// feResult is one round of a row on one server: its rate and, where each
// request is timed, the 50th and 99th percentiles of the latencies.
type feResult struct {
	v        float64
	p50, p99 time.Duration
}

// rateOnly makes the result of a row that does not time each request.
func rateOnly(v float64, err error) (feResult, error) {
	return feResult{v: v}, err
}

// withLatencies makes the result of rate v whose requests took lat.
func withLatencies(v float64, lat []time.Duration) feResult {
	if len(lat) == 0 {
		return feResult{v: v}
	}
	slices.Sort(lat)
	return feResult{v: v, p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

// singleRows are the single-request rows, the two create rows last; big fills each server's
// 10,000-entry folder on its first use.
func singleRows(big *bigFolders) []feRow {
	data := make([]byte, feCreateBytes)
	for i := range data {
		data[i] = byte(i)
	}
	createRound, emptyRound := 0, 0 // each round creates in a folder of its own
	return []feRow{
		{"random 4 KiB READ of a cached 64 MiB file, 1 in flight", "reads/s", func(s feServer) (feResult, error) {
			return singleRandomReads(s, "rand.bin")
		}},
		{"sequential 1 MiB READ of a cached 256 MiB file, 1 in flight", "MB/s", func(s feServer) (feResult, error) {
			return singleSeqRead(s, "seq.bin")
		}},
		{"LOOKUP + GETATTR in a 10,000-entry folder, 1 in flight", "pairs/s", func(s feServer) (feResult, error) {
			return lookupGetattr(s, big)
		}},
		{"READDIR of a 10,000-entry folder, 32 KiB replies, 1 in flight", "entries/s", func(s feServer) (feResult, error) {
			return listBig(s, big, false)
		}},
		{"READDIRPLUS of a 10,000-entry folder, 32 KiB replies, 1 in flight", "entries/s", func(s feServer) (feResult, error) {
			return listBig(s, big, true)
		}},
		{"create 4 KiB files (CREATE, WRITE UNSTABLE, COMMIT), 1 client", "files/s", func(s feServer) (feResult, error) {
			createRound++
			return createFiles(s, fmt.Sprintf("create-%d", createRound), feCreateFiles, data)
		}},
		{"create empty files (CREATE), 1 client", "files/s", func(s feServer) (feResult, error) {
			emptyRound++
			return createFiles(s, fmt.Sprintf("empty-%d", emptyRound), feEmptyFiles, nil)
		}},
	}
}

// singleRandomReads reads 4 KiB at random 4 KiB-aligned offsets of name
// (feRandBytes), one READ at a time, for feSingleFor.
func singleRandomReads(s feServer, name string) (feResult, error) {
	c, fh, err := dialFile(s, name)
	if err != nil {
		return feResult{}, err
	}
	defer c.nc.Close()
	r := rand.New(rand.NewPCG(1, 7))
	lat := make([]time.Duration, 0, 1<<16)
	start := time.Now()
	deadline := start.Add(feSingleFor)
	for t := start; t.Before(deadline); {
		off := uint64(r.IntN(feRandBytes/4096)) * 4096
		if err := c.read(fh, off, 4096); err != nil {
			return feResult{}, err
		}
		now := time.Now()
		lat = append(lat, now.Sub(t))
		t = now
	}
	return withLatencies(float64(len(lat))/time.Since(start).Seconds(), lat), nil
}

// singleSeqRead reads name (feSeqBytes) from start to end in 1 MiB READs,
// one at a time, and returns MB/s.
func singleSeqRead(s feServer, name string) (feResult, error) {
	c, fh, err := dialFile(s, name)
	if err != nil {
		return feResult{}, err
	}
	defer c.nc.Close()
	const chunk = 1 << 20
	lat := make([]time.Duration, 0, feSeqBytes/chunk)
	start := time.Now()
	t := start
	for off := uint64(0); off < feSeqBytes; off += chunk {
		if err := c.read(fh, off, chunk); err != nil {
			return feResult{}, err
		}
		now := time.Now()
		lat = append(lat, now.Sub(t))
		t = now
	}
	return withLatencies(feSeqBytes/1e6/time.Since(start).Seconds(), lat), nil
}

// lookupGetattr looks up random names of the 10,000-entry folder, each
// followed by a GETATTR of the handle found, for feSingleFor, and returns
// the pairs per second.
func lookupGetattr(s feServer, big *bigFolders) (feResult, error) {
	c, dir, err := big.open(s)
	if err != nil {
		return feResult{}, err
	}
	defer c.nc.Close()
	r := rand.New(rand.NewPCG(2, 7))
	lat := make([]time.Duration, 0, 1<<15)
	start := time.Now()
	deadline := start.Add(feSingleFor)
	for t := start; t.Before(deadline); {
		fh, err := c.lookup(dir, bigName(r.IntN(feDirEntries)))
		if err != nil {
			return feResult{}, err
		}
		if err := c.getattr(fh); err != nil {
			return feResult{}, err
		}
		now := time.Now()
		lat = append(lat, now.Sub(t))
		t = now
	}
	return withLatencies(float64(len(lat))/time.Since(start).Seconds(), lat), nil
}

// listBig lists the 10,000-entry folder from start to end, again and
// again for feSingleFor (at least once), and returns entries per second.
func listBig(s feServer, big *bigFolders, plus bool) (feResult, error) {
	c, dir, err := big.open(s)
	if err != nil {
		return feResult{}, err
	}
	defer c.nc.Close()
	total := 0
	start := time.Now()
	for total == 0 || time.Since(start) < feSingleFor {
		n, err := c.listDir(dir, plus, feDirReply)
		if err != nil {
			return feResult{}, err
		}
		if n != feDirEntries {
			return feResult{}, fmt.Errorf("listed %d entries of %d", n, feDirEntries)
		}
		total += n
	}
	return feResult{v: float64(total) / time.Since(start).Seconds()}, nil
}

func bigName(i int) string { return fmt.Sprintf("e%05d", i) }

// bigFolders remembers which servers have their 10,000-entry folder, so
// it is filled once per server and outside the timed part of any row.
type bigFolders struct {
	filled map[string]bool
}

// open fills s's folder if it is not yet, then connects to s and returns
// the client and the folder's handle. A new folder is listed once before
// it is measured, so both servers' rows start with it in their caches.
func (b *bigFolders) open(s feServer) (*rawNFS, []byte, error) {
	fresh := !b.filled[s.name]
	if fresh {
		if err := s.fillDir(feBigDir, feDirEntries); err != nil {
			return nil, nil, fmt.Errorf("fill %s: %w", feBigDir, err)
		}
		if b.filled == nil {
			b.filled = map[string]bool{}
		}
		b.filled[s.name] = true
	}
	c, root, err := dialExport(s)
	if err != nil {
		return nil, nil, err
	}
	dir, err := c.lookup(root, feBigDir)
	if err == nil && fresh {
		_, err = c.listDir(dir, true, feDirReply)
	}
	if err != nil {
		c.nc.Close()
		return nil, nil, err
	}
	return c, dir, nil
}

// fillCacheFolder makes the folder name in the cache's root with n empty
// files, from several goroutines so that their durable creates share log
// syncs.
func fillCacheFolder(ctx context.Context, c *cache.Cache, name string, n int) error {
	d, _, err := c.Mkdir(ctx, cache.RootIno, name, cache.NewAttr{Mode: 0o755})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, feFillWorkers)
	for w := range feFillWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += feFillWorkers {
				if _, _, err := c.Create(ctx, d.Ino, bigName(i), cache.NewAttr{Mode: 0o644}); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
