package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
)

// errNoServer is returned when versitygw is not installed.
var errNoServer = errors.New("versitygw not installed")

// runS3 is the s3 suite: PUT and GET throughput of the S3 store beside
// raw SDK calls against the same versitygw server, in the same run.
//
// Rows: 200 objects of 1 MiB, and one object of 256 MiB, each with 1 and
// with 8 streams. For the small objects a stream is a goroutine putting or
// getting its share of them one after another. For the big object, the
// store puts it as a multipart upload with UploadConcurrency = streams
// (parts of 16 MiB), and the raw client with one PutObject (1 stream) or
// its own multipart upload of 8 parallel 16 MiB parts (8 streams); a
// second row has the raw client upload in parts with 1 stream too. GETs
// split it into that many ranged GETs.
func runS3(rounds int, base string) error {
	tmp, err := os.MkdirTemp(base, "filegate-bench-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if _, err := s3test.Binary(); err != nil {
		return fmt.Errorf("%w: %v", errNoServer, err)
	}
	srv, err := s3test.StartServer(filepath.Join(tmp, "versitygw"))
	if err != nil {
		return err
	}
	defer srv.Close()
	ctx := context.Background()
	const bucket = "bench"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		return err
	}
	small := make([]byte, 1<<20)
	big := make([]byte, 256<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	copy(small, big)
	const nSmall = 200
	const part = 16 << 20

	type row struct {
		name  string
		bytes int64
		store func(st *s3.Store, streams int) error
		raw   func(r *s3test.Raw, streams int) error
	}
	rows := []row{
		{"PUT 200 × 1 MiB", nSmall << 20,
			func(st *s3.Store, n int) error {
				return fanOut(n, nSmall, func(i int) error {
					_, err := st.Put(ctx, fmt.Sprintf("small/s%03d", i), bytes.NewReader(small), int64(len(small)), nil)
					return err
				})
			},
			func(r *s3test.Raw, n int) error {
				return fanOut(n, nSmall, func(i int) error { return r.Put(ctx, bucket, fmt.Sprintf("rsmall/s%03d", i), small) })
			}},
		{"GET 200 × 1 MiB", nSmall << 20,
			func(st *s3.Store, n int) error {
				return fanOut(n, nSmall, func(i int) error { return storeGet(ctx, st, fmt.Sprintf("small/s%03d", i), 0, -1) })
			},
			func(r *s3test.Raw, n int) error {
				return fanOut(n, nSmall, func(i int) error {
					_, err := r.Get(ctx, bucket, fmt.Sprintf("rsmall/s%03d", i), 0, -1, io.Discard)
					return err
				})
			}},
		{"PUT 1 × 256 MiB", int64(len(big)),
			func(st *s3.Store, n int) error {
				_, err := st.Put(ctx, "big", bytes.NewReader(big), int64(len(big)), nil)
				return err
			},
			func(r *s3test.Raw, n int) error {
				if n == 1 {
					return r.Put(ctx, bucket, "rbig", big)
				}
				return r.PutMultipart(ctx, bucket, "rbig", big, part, n)
			}},
		// The same, with the raw client uploading in parts too: on
		// versitygw, whose CompleteMultipartUpload copies the parts into
		// one file, this is the like-for-like comparison.
		{"PUT 1 × 256 MiB, raw multipart too", int64(len(big)),
			func(st *s3.Store, n int) error {
				_, err := st.Put(ctx, "big", bytes.NewReader(big), int64(len(big)), nil)
				return err
			},
			func(r *s3test.Raw, n int) error { return r.PutMultipart(ctx, bucket, "rbig", big, part, n) }},
		{"GET 1 × 256 MiB", int64(len(big)),
			func(st *s3.Store, n int) error {
				size := int64(len(big)) / int64(n)
				return fanOut(n, n, func(i int) error { return storeGet(ctx, st, "big", int64(i)*size, size) })
			},
			func(r *s3test.Raw, n int) error {
				size := int64(len(big)) / int64(n)
				return fanOut(n, n, func(i int) error {
					_, err := r.Get(ctx, bucket, "rbig", int64(i)*size, size, io.Discard)
					return err
				})
			}},
	}

	fmt.Printf("filegate-bench -suite s3: versitygw %s on %s, %d rounds, medians; MB/s = 10^6 bytes/s\n\n", "v1.8.0", tmp, rounds)
	fmt.Printf("| workload | streams | store MB/s | raw SDK MB/s | store / raw |\n")
	fmt.Printf("|---|---:|---:|---:|---:|\n")
	for _, streams := range []int{1, 8} {
		cfg := srv.Config(bucket)
		cfg.PartSize = part
		cfg.UploadConcurrency = streams
		st, err := s3.New(ctx, cfg)
		if err != nil {
			return err
		}
		raw := srv.Raw(max(streams, 4))
		for _, rw := range rows {
			var sRates, rRates []float64
			// Alternate store and raw within each round, so drift in the
			// machine's state hits both alike.
			for range rounds {
				start := time.Now()
				if err := rw.store(st, streams); err != nil {
					return fmt.Errorf("%s on the store: %w", rw.name, err)
				}
				sRates = append(sRates, float64(rw.bytes)/1e6/time.Since(start).Seconds())
				start = time.Now()
				if err := rw.raw(raw, streams); err != nil {
					return fmt.Errorf("%s raw: %w", rw.name, err)
				}
				rRates = append(rRates, float64(rw.bytes)/1e6/time.Since(start).Seconds())
			}
			s, r := median(sRates), median(rRates)
			fmt.Printf("| %s | %d | %.0f | %.0f | %.2f× |\n", rw.name, streams, s, r, s/r)
		}
		raw.Close()
		st.Close()
	}
	return nil
}

// fanOut runs do(0..n-1) from streams goroutines.
func fanOut(streams, n int, do func(i int) error) error {
	var g errgroup.Group
	for w := range streams {
		g.Go(func() error {
			for i := w; i < n; i += streams {
				if err := do(i); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func storeGet(ctx context.Context, st *s3.Store, key string, off, length int64) error {
	rc, err := st.Get(ctx, key, off, length, "")
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}
