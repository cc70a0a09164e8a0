package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/nfsd"
)

// The frontends suite compares our NFS server (gateway/nfsd over one
// warm cache, POSIX backend) with NFS-Ganesha (nfs-ganesha +
// nfs-ganesha-vfs, exporting a folder of the same disk on loopback) when
// it is installed, in the same run:
//
//   - pipelined read: 1 MiB READs, several in flight on one connection,
//     of a 256 MiB file, by our own client and by nfs-cat (libnfs);
//   - random 4 KiB reads: 8 clients, each on its own connection, one
//     READ at a time at random 4 KiB-aligned offsets of a 64 MiB file,
//     for 2 s;
//   - create 4 KiB files: one client, one call at a time, what the Linux
//     client sends for a small new file: CREATE (unchecked), WRITE
//     UNSTABLE, COMMIT; so each file is on disk when its COMMIT
//     answers, on both servers (Ganesha's VFS back end fsyncs at COMMIT);
//   - the single-request rows of single.go: one request in flight on one
//     connection.
const (
	feSeqBytes    = 256 << 20
	feRandBytes   = 64 << 20
	feRandClients = 8
	feRandFor     = 2 * time.Second
	fePipeDepth   = 8
	feCreateFiles = 300
	feCreateBytes = 4 << 10
)

// feServer is one NFS server under test: where it listens, the path to
// mount, and where the two files are below it.
type feServer struct {
	name      string
	port      int // NFS
	mountPort int
	export    string
	stop      func()
	// fillDir makes a folder of the export's root with n empty files
	// named by bigName, the fastest way this server's storage allows.
	fillDir func(name string, n int) error
}

// feRow is one workload of the suite: run measures one round on s.
type feRow struct {
	name, unit string
	run        func(s feServer) (feResult, error)
}

func runFrontends(rounds int, base, only string) error {
	tmp, err := os.MkdirTemp(base, "filegate-bench-fe-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	store, err := posixStore(filepath.Join(tmp, "backend"))
	if err != nil {
		return err
	}
	ccfg := cache.DefaultConfig()
	ccfg.Dir, ccfg.Store = filepath.Join(tmp, "cache"), store
	ccfg.UploadDelay = time.Hour // measure serving, not uploading
	c, err := cache.New(ctx, ccfg)
	if err != nil {
		return err
	}
	defer c.Close()
	for _, f := range []struct {
		name string
		size int
	}{{"seq.bin", feSeqBytes}, {"rand.bin", feRandBytes}} {
		if err := fillCache(ctx, c, f.name, f.size); err != nil {
			return err
		}
	}

	var servers []feServer
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	ncfg := nfsd.DefaultConfig()
	ncfg.Export.Squash = nfsd.SquashNone
	nsrv, err := nfsd.New(ncfg, c)
	if err != nil {
		return err
	}
	nl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go nsrv.Serve(ctx, nl)
	nport := nl.Addr().(*net.TCPAddr).Port
	servers = append(servers, feServer{"nfsd", nport, nport, "/", func() { nsrv.Close() }, func(name string, n int) error {
		return fillCacheFolder(ctx, c, name, n)
	}})

	note := ""
	if g, err := startGanesha(tmp); err != nil {
		note = "NFS-Ganesha: not measured: " + err.Error()
	} else {
		servers = append(servers, g)
	}

	nfsCat, catErr := exec.LookPath("nfs-cat")
	rows := []feRow{
		{fmt.Sprintf("pipelined read 256 MiB, 1 MiB READs, %d in flight", fePipeDepth), "MB/s", func(s feServer) (feResult, error) {
			return rateOnly(pipelinedRead(s, "seq.bin"))
		}},
		{"pipelined read 256 MiB (nfs-cat)", "MB/s", func(s feServer) (feResult, error) {
			return rateOnly(nfsCatRead(s, nfsCat, catErr))
		}},
		{fmt.Sprintf("random 4 KiB reads, %d clients", feRandClients), "reads/s", func(s feServer) (feResult, error) {
			return rateOnly(randomReads(s, "rand.bin"))
		}},
	}
	rows = append(rows, singleRows(&bigFolders{})...)

	fmt.Printf("filegate-bench -suite frontends: %d rounds; medians; cache warm, POSIX backend\n\n", rounds)
	if note != "" {
		fmt.Fprintln(os.Stderr, note)
	}
	fmt.Printf("| workload | unit |")
	for _, s := range servers {
		fmt.Printf(" %s |", s.name)
	}
	if len(servers) > 1 {
		fmt.Printf(" nfsd / Ganesha |")
	}
	fmt.Printf("\n|---|---|")
	for range len(servers) + len(servers) - 1 {
		fmt.Printf("---:|")
	}
	fmt.Println()
	for _, w := range rows {
		if !strings.Contains(w.name, only) {
			continue
		}
		// Rounds alternate between the servers, so a drift of the
		// machine (other load, the disk's state) weighs on both alike.
		vals := make([][]feResult, len(servers))
		for range rounds {
			for i, s := range servers {
				x, err := w.run(s)
				if err != nil {
					return fmt.Errorf("%s on %s: %w", w.name, s.name, err)
				}
				vals[i] = append(vals[i], x)
			}
		}
		med := make([]float64, len(servers))
		fmt.Printf("| %s | %s |", w.name, w.unit)
		for i, v := range vals {
			var cell string
			med[i], cell = feCell(v)
			fmt.Printf(" %s |", cell)
		}
		for _, d := range med[1:] {
			if d == 0 || med[0] == 0 {
				fmt.Printf(" n/a |")
			} else {
				fmt.Printf(" %.2f× |", med[0]/d)
			}
		}
		fmt.Println()
	}
	if note != "" {
		fmt.Println("\n" + note)
	}
	return nil
}

// feCell returns the median rate of one server's rounds and its table
// cell, with the medians of the rounds' latency percentiles if timed.
func feCell(rs []feResult) (float64, string) {
	if len(rs) == 0 || rs[0].v == 0 {
		return 0, "n/a"
	}
	var v, p50, p99 []float64
	for _, r := range rs {
		v = append(v, r.v)
		p50 = append(p50, float64(r.p50))
		p99 = append(p99, float64(r.p99))
	}
	m := median(v)
	if rs[0].p50 == 0 {
		return m, fmt.Sprintf("%.0f", m)
	}
	return m, fmt.Sprintf("%.0f (p50 %s, p99 %s)", m, fmtLatency(median(p50)), fmtLatency(median(p99)))
}

// fmtLatency writes ns nanoseconds in µs, or ms from 10 ms on.
func fmtLatency(ns float64) string {
	if ns >= 10e6 {
		return fmt.Sprintf("%.1f ms", ns/1e6)
	}
	return fmt.Sprintf("%.0f µs", ns/1e3)
}

// nfsCatRead reads seq.bin of s with libnfs's nfs-cat (at path, unless
// looking it up failed with pathErr) and returns MB/s.
func nfsCatRead(s feServer, path string, pathErr error) (float64, error) {
	if pathErr != nil {
		return 0, errors.New("nfs-cat not installed (apt-get install libnfs-utils)")
	}
	url := fmt.Sprintf("nfs://127.0.0.1%s/seq.bin?nfsport=%d&mountport=%d", s.export, s.port, s.mountPort)
	cmd := exec.Command(path, url)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	n, _ := io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil || n != feSeqBytes {
		return 0, fmt.Errorf("nfs-cat: %d of %d bytes, %v", n, feSeqBytes, err)
	}
	return float64(n) / 1e6 / time.Since(start).Seconds(), nil
}

// fillCache writes a file of size bytes through the cache and syncs it.
func fillCache(ctx context.Context, c *cache.Cache, name string, size int) error {
	a, _, err := c.Create(ctx, cache.RootIno, name, cache.NewAttr{Mode: 0o644})
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := 0; off < size; off += len(buf) {
		for i := 0; i < len(buf); i += 4096 {
			binary.BigEndian.PutUint64(buf[i:], uint64(off+i))
		}
		if _, _, err := c.WriteAt(ctx, a.Ino, buf, int64(off)); err != nil {
			return err
		}
	}
	_, err = c.Commit(ctx, a.Ino)
	return err
}

// randomReads runs feRandClients clients reading 4 KiB at random offsets
// of name for feRandFor and returns the reads per second of all.
func randomReads(s feServer, name string) (float64, error) {
	clients := make([]*rawNFS, feRandClients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.nc.Close()
			}
		}
	}()
	var fh []byte
	for i := range clients {
		c, err := dialRawNFS(s.port)
		if err != nil {
			return 0, err
		}
		clients[i] = c
		if fh == nil {
			root, err := mountAt(s.mountPort, s.export)
			if err != nil {
				return 0, err
			}
			if fh, err = c.lookup(root, name); err != nil {
				return 0, err
			}
		}
	}
	var wg sync.WaitGroup
	counts := make([]int, len(clients))
	errs := make([]error, len(clients))
	deadline := time.Now().Add(feRandFor)
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 7))
			for time.Now().Before(deadline) {
				off := uint64(r.IntN(feRandBytes/4096)) * 4096
				if err := c.read(fh, off, 4096); err != nil {
					errs[i] = err
					return
				}
				counts[i]++
			}
		}()
	}
	wg.Wait()
	total := 0
	for _, n := range counts {
		total += n
	}
	return float64(total) / time.Since(start).Seconds(), errors.Join(errs...)
}

// pipelinedRead reads name (feSeqBytes) in 1 MiB READs with fePipeDepth
// in flight on one connection, discarding the data, and returns MB/s.
func pipelinedRead(s feServer, name string) (float64, error) {
	c, fh, err := dialFile(s, name)
	if err != nil {
		return 0, err
	}
	defer c.nc.Close()
	const chunk = 1 << 20
	n := feSeqBytes / chunk
	slots := make(chan struct{}, fePipeDepth)
	werr := make(chan error, 1)
	start := time.Now()
	c.nc.SetDeadline(time.Now().Add(2 * time.Minute))
	go func() {
		w := bufio.NewWriter(c.nc)
		for i := range n {
			slots <- struct{}{}
			args := xdrString(nil, string(fh))
			args = binary.BigEndian.AppendUint64(args, uint64(i)*chunk)
			args = binary.BigEndian.AppendUint32(args, chunk)
			b := []byte{0, 0, 0, 0}
			for _, v := range []uint32{uint32(i + 1), 0, 2, 100003, 3, 6, 1, 20, 0, 0, 0, 0, 0, 0, 0} {
				b = binary.BigEndian.AppendUint32(b, v)
			}
			b = append(b, args...)
			binary.BigEndian.PutUint32(b, uint32(len(b)-4)|1<<31)
			w.Write(b)
			if len(slots) == cap(slots) || i == n-1 {
				if err := w.Flush(); err != nil {
					werr <- err
					return
				}
			}
		}
		werr <- nil
	}()
	var total int64
	var hdr [4]byte
	for range n {
		// One record per reply, skipped after its header; the data counts.
		var size int64
		for {
			if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
				return 0, err
			}
			h := binary.BigEndian.Uint32(hdr[:])
			size += int64(h &^ (1 << 31))
			if _, err := c.r.Discard(int(h &^ (1 << 31))); err != nil {
				return 0, err
			}
			if h&(1<<31) != 0 {
				break
			}
		}
		if size < chunk {
			return 0, fmt.Errorf("READ reply of %d bytes", size)
		}
		total += size
		<-slots
	}
	if err := <-werr; err != nil {
		return 0, err
	}
	return float64(feSeqBytes) / 1e6 / time.Since(start).Seconds(), nil
}

// createFiles makes the folder dir in s's export and n files in it, one
// call at a time on one connection, each by CREATE and, when data is not
// nil, WRITE UNSTABLE of data and COMMIT; it returns the files per second
// and the latencies of whole files.
func createFiles(s feServer, dir string, n int, data []byte) (feResult, error) {
	c, root, err := dialExport(s)
	if err != nil {
		return feResult{}, err
	}
	defer c.nc.Close()
	d, err := c.makeNode(9, root, dir, 0o755) // MKDIR
	if err != nil {
		return feResult{}, err
	}
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	t := start
	for i := range n {
		fh, err := c.makeNode(8, d, fmt.Sprintf("f%04d", i), 0o644) // CREATE
		if err != nil {
			return feResult{}, err
		}
		if data != nil {
			if err := c.write(fh, data); err != nil {
				return feResult{}, err
			}
			if err := c.commit(fh); err != nil {
				return feResult{}, err
			}
		}
		now := time.Now()
		lat = append(lat, now.Sub(t))
		t = now
	}
	return withLatencies(float64(n)/time.Since(start).Seconds(), lat), nil
}
