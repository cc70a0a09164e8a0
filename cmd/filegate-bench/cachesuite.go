package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/cache"
)

// runCache is the cache suite: for the POSIX store and, when
// versitygw is installed, the S3 store, in one run: cached and cold
// sequential reads, sequential writes, 4 KiB creates and the upload
// drain, each beside a raw reference on the same machine, and the peak
// RSS of the process (gateway and client together).
func runCache(rounds, mib int, base string) error {
	tmp, err := os.MkdirTemp(base, "filegate-bench-cache-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	type backendUnderTest struct {
		name  string
		store backend.Store
	}
	posixS, err := posixStore(filepath.Join(tmp, "posix-backend"))
	if err != nil {
		return err
	}
	backends := []backendUnderTest{{"POSIX", posixS}}
	note := ""
	if _, err := s3test.Binary(); err != nil {
		note = "S3 rows skipped: versitygw not installed"
	} else {
		srv, err := s3test.StartServer(filepath.Join(tmp, "versitygw"))
		if err != nil {
			return err
		}
		defer srv.Close()
		if err := srv.CreateBucket(ctx, "cachebench"); err != nil {
			return err
		}
		st, err := s3.New(ctx, srv.Config("cachebench"))
		if err != nil {
			return err
		}
		defer st.Close()
		backends = append(backends, backendUnderTest{"S3 (versitygw)", st})
	}

	size := int64(mib) << 20
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i*31 + i>>13)
	}
	chunk := make([]byte, 1<<20)
	page := data[:4096]
	const drainFiles = 8

	fmt.Printf("filegate-bench -suite cache: %d rounds, %d MiB files; medians; one client, one request in flight\n\n", rounds, mib)
	fmt.Printf("| backend | workload | filegate | reference | ref. value | filegate / ref. |\n|---|---|---:|---:|---:|---:|\n")
	for bi, b := range backends {
		g, err := startGatewayOn(ctx, filepath.Join(tmp, fmt.Sprintf("cache%d", bi)), b.store, func(cfg *cache.Config) {
			cfg.UploadDelay = time.Hour // uploads only when the bench flushes
			cfg.MaxBytes = 64 << 30
		})
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		rawFile := filepath.Join(tmp, "raw.bin")
		if err := os.WriteFile(rawFile, data, 0o644); err != nil {
			return err
		}
		type row struct {
			name, unit, ref string
			ours, raw       func(r int) (float64, error) // amount per second
		}
		timed := func(amount float64, do func() error) (float64, error) {
			start := time.Now()
			err := do()
			return amount / time.Since(start).Seconds(), err
		}
		mb := float64(size) / 1e6
		rows := []row{
			{"cached sequential read", "MB/s", "raw read of a file on the same disk",
				func(r int) (float64, error) {
					p := fmt.Sprintf("hot%d.bin", r)
					if err := g.writeFile(p, data[:1<<20], size); err != nil {
						return 0, err
					}
					if _, err := g.readFile(p, chunk); err != nil { // now cached
						return 0, err
					}
					return timed(mb, func() error { _, err := g.readFile(p, chunk); return err })
				},
				func(int) (float64, error) {
					return timed(mb, func() error {
						f, err := os.Open(rawFile)
						if err != nil {
							return err
						}
						defer f.Close()
						_, err = drain(f, chunk)
						return err
					})
				}},
			{"cold sequential read", "MB/s", "raw backend GET of the object",
				func(r int) (float64, error) {
					key := fmt.Sprintf("cold%d.bin", r)
					if _, err := b.store.Put(ctx, key, bytes.NewReader(data), size, nil); err != nil {
						return 0, err
					}
					if err := g.c.Refresh(ctx, cache.RootIno); err != nil {
						return 0, err
					}
					return timed(mb, func() error { _, err := g.readFile(key, chunk); return err })
				},
				func(r int) (float64, error) {
					return timed(mb, func() error {
						rc, err := b.store.Get(ctx, fmt.Sprintf("cold%d.bin", r), 0, -1, "")
						if err != nil {
							return err
						}
						defer rc.Close()
						_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{rc}, chunk)
						return err
					})
				}},
			{"sequential write", "MB/s", "bare disk write + fsync",
				func(r int) (float64, error) {
					return timed(mb, func() error { return g.writeFile(fmt.Sprintf("w%d.bin", r), chunk, size) })
				},
				func(r int) (float64, error) {
					d := newDiskTarget(filepath.Join(tmp, fmt.Sprintf("bare%d", bi)), true)
					return timed(mb, func() error { return d.writeFile(fmt.Sprintf("w%d.bin", r), chunk, size) })
				}},
			{"create 4 KiB files", "files/s", "bare disk create + fsync",
				func(r int) (float64, error) {
					dir := fmt.Sprintf("c%d", r)
					if err := g.mkdir(dir); err != nil {
						return 0, err
					}
					return timed(200, func() error {
						for i := range 200 {
							if err := g.createFile(fmt.Sprintf("%s/f%03d", dir, i), page); err != nil {
								return err
							}
						}
						return nil
					})
				},
				func(r int) (float64, error) {
					d := newDiskTarget(filepath.Join(tmp, fmt.Sprintf("bare%d", bi)), true)
					dir := fmt.Sprintf("c%d", r)
					if err := d.mkdir(dir); err != nil {
						return 0, err
					}
					return timed(200, func() error {
						for i := range 200 {
							if err := d.createFile(fmt.Sprintf("%s/f%03d", dir, i), page); err != nil {
								return err
							}
						}
						return nil
					})
				}},
			{"upload drain", "MB/s", "raw store PUTs, 4 in parallel",
				func(r int) (float64, error) {
					dir := fmt.Sprintf("d%d", r)
					if err := g.mkdir(dir); err != nil {
						return 0, err
					}
					per := size / drainFiles
					for i := range drainFiles {
						if err := g.writeFile(fmt.Sprintf("%s/f%d", dir, i), chunk, per); err != nil {
							return 0, err
						}
					}
					return timed(mb, func() error { return g.c.Flush(ctx) })
				},
				func(r int) (float64, error) {
					per := size / drainFiles
					return timed(mb, func() error {
						return fanOut(4, drainFiles, func(i int) error {
							_, err := b.store.Put(ctx, fmt.Sprintf("raw%d/f%d", r, i), bytes.NewReader(data[:per]), per, nil)
							return err
						})
					})
				}},
		}
		for _, rw := range rows {
			var ours, raws []float64
			for r := range rounds {
				o, err := rw.ours(r)
				if err != nil {
					return fmt.Errorf("%s %s: %w", b.name, rw.name, err)
				}
				x, err := rw.raw(r)
				if err != nil {
					return fmt.Errorf("%s %s reference: %w", b.name, rw.name, err)
				}
				ours, raws = append(ours, o), append(raws, x)
			}
			o, x := median(ours), median(raws)
			fmt.Printf("| %s | %s (%s) | %.0f | %s | %.0f | %.2f× |\n", b.name, rw.name, rw.unit, o, rw.ref, x, o/x)
		}
		if err := g.c.Flush(ctx); err != nil {
			return err
		}
		g.close()
	}
	rss, err := daemonRSS(tmp, 4*mib)
	if err != nil {
		return fmt.Errorf("daemon RSS: %w", err)
	}
	fmt.Printf("\nPeak RSS of `filegate serve` after writing and twice reading a %d MiB file through NFS: %s\n", 4*mib, rss)
	fmt.Printf("Peak RSS of this bench process (in-process gateways, clients and its own %d MiB buffers): %s\n", mib, peakRSS())
	if note != "" {
		fmt.Println(note)
	}
	return nil
}

// peakRSS reads VmHWM from /proc/self/status.
func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return fmt.Sprintf("%.0f MiB", float64(kb)/1024)
			}
		}
	}
	return "unknown"
}
