package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"time"
)

func main() {
	rounds := flag.Int("rounds", 5, "rounds per workload; the table shows medians")
	files := flag.Int("files", 300, "files per create/stat/readdir round")
	mib := flag.Int("mib", 64, "MiB per sequential write/read round")
	dir := flag.String("dir", "", "folder for temporary data (default: the system temp folder)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	suite := flag.String("suite", "nfs", `"nfs" (the gateway beside the bare disk), "frontends" (our NFS server beside NFS-Ganesha if installed: pipelined and concurrent random reads, then one request in flight: READ, LOOKUP + GETATTR, READDIR(PLUS), small-file and empty creates), "cache" (cached/cold reads, writes, creates, upload drain; POSIX and S3 backends) or "s3" (the S3 store beside raw SDK calls, on versitygw)`)
	only := flag.String("only", "", "with -suite frontends: run only the rows whose name contains this text")
	skipMissing := flag.Bool("skip-missing", false, "with -suite s3: exit 0 with a note when versitygw is not installed")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "filegate-bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	var err error
	switch *suite {
	case "nfs":
		err = run(*rounds, *files, *mib, *dir)
	case "cache":
		err = runCache(*rounds, *mib, *dir)
	case "frontends":
		err = runFrontends(*rounds, *dir, *only)
	case "s3":
		err = runS3(*rounds, *dir)
		if errors.Is(err, errNoServer) && *skipMissing {
			fmt.Println("filegate-bench -suite s3: skipped:", err)
			err = nil
		}
	default:
		err = fmt.Errorf("unknown suite %q (want nfs, frontends, cache or s3)", *suite)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "filegate-bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// target is one thing the workloads run against.
type target interface {
	name() string
	createFile(path string, data []byte) error
	stat(path string) error
	readDir(path string) (int, error)
	mkdir(path string) error
	writeFile(path string, chunk []byte, total int64) error
	readFile(path string, buf []byte) (int64, error)
	close() error
}

// workload is one row of the table.
type workload struct {
	name, unit string
	// run does one round and returns the amount done (files, entries,
	// bytes) for the unit.
	run func(t target, round int) (float64, error)
}

func run(rounds, files, mib int, base string) error {
	tmp, err := os.MkdirTemp(base, "filegate-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	nfsT, err := startGateway(ctx, tmp)
	if err != nil {
		return err
	}
	targets := []target{nfsT, newDiskTarget(tmp+"/bare", false), newDiskTarget(tmp+"/bare-fsync", true)}
	defer func() {
		for _, t := range targets {
			t.close()
		}
	}()
	for _, t := range targets {
		if err := t.mkdir("w"); err != nil {
			return fmt.Errorf("%s: %w", t.name(), err)
		}
	}
	page := make([]byte, 4096)
	for i := range page {
		page[i] = byte(i)
	}
	chunk := make([]byte, 1<<20)
	total := int64(mib) << 20
	loads := []workload{
		{"create 4 KiB files", "files/s", func(t target, r int) (float64, error) {
			d := fmt.Sprintf("w/c%d", r)
			if err := t.mkdir(d); err != nil {
				return 0, err
			}
			for i := range files {
				if err := t.createFile(fmt.Sprintf("%s/f%05d", d, i), page); err != nil {
					return 0, err
				}
			}
			return float64(files), nil
		}},
		{"stat", "stats/s", func(t target, r int) (float64, error) {
			for i := range files {
				if err := t.stat(fmt.Sprintf("w/c%d/f%05d", r, i)); err != nil {
					return 0, err
				}
			}
			return float64(files), nil
		}},
		{"readdir", "entries/s", func(t target, r int) (float64, error) {
			n, err := t.readDir(fmt.Sprintf("w/c%d", r))
			if err == nil && n < files {
				err = fmt.Errorf("readdir listed %d of %d", n, files)
			}
			return float64(n), err
		}},
		{fmt.Sprintf("sequential write %d MiB", mib), "MB/s", func(t target, r int) (float64, error) {
			return float64(total) / 1e6, t.writeFile(fmt.Sprintf("w/big%d", r), chunk, total)
		}},
		{fmt.Sprintf("sequential read %d MiB", mib), "MB/s", func(t target, r int) (float64, error) {
			n, err := t.readFile(fmt.Sprintf("w/big%d", r), chunk)
			if err == nil && n != total {
				err = fmt.Errorf("read %d of %d bytes", n, total)
			}
			return float64(n) / 1e6, err
		}},
	}

	fmt.Printf("filegate-bench: %d rounds, %d files, %d MiB; medians; POSIX backend\n\n", rounds, files, mib)
	fmt.Printf("| workload | unit | %s | %s | %s | filegate / bare+fsync |\n", targets[0].name(), targets[1].name(), targets[2].name())
	fmt.Printf("|---|---|---:|---:|---:|---:|\n")
	for _, w := range loads {
		med := make([]float64, len(targets))
		for ti, t := range targets {
			var rates []float64
			for r := range rounds {
				start := time.Now()
				amount, err := w.run(t, r)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", w.name, t.name(), err)
				}
				rates = append(rates, amount/time.Since(start).Seconds())
			}
			med[ti] = median(rates)
		}
		fmt.Printf("| %s | %s | %.0f | %.0f | %.0f | %.2f× |\n", w.name, w.unit, med[0], med[1], med[2], med[0]/med[2])
	}
	return nil
}

func median(v []float64) float64 {
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}
