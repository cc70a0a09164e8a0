package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/cache"
)

// env is one gateway served over TCP on 127.0.0.1 from a cache over a
// store: a posix store in a temporary directory, or (withS3) a bucket of
// the shared versitygw server. Both survive restart.
type env struct {
	t        testing.TB
	cacheDir string
	storeDir string
	s3cfg    *s3.Config        // the S3 backend's, if set
	wrap     func(nodes) nodes // fault injection, if set
	timeout  time.Duration     // OpTimeout, if set

	store      backend.Store
	closeStore func() error
	cache      *cache.Cache
	srv        *Server
	served     chan error
	addr       *net.TCPAddr
	client     *rpc.Client
	target     *nfsc.Target
	rootFH     []byte
}

// newEnv starts an env and stops it at the end of the test, checking
// that every file it opened is closed again. opts adjust it before start.
func newEnv(t testing.TB, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, cacheDir: t.TempDir(), storeDir: t.TempDir()}
	for _, o := range opts {
		o(e)
	}
	// After the options: the shared S3 server they may start lives on.
	fds := openFDs(t)
	t.Cleanup(func() {
		e.stop()
		checkFDs(t, fds)
	})
	e.start()
	return e
}

// testLogger is the logger of test servers: discarded unless
// FILEGATE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("FILEGATE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func (e *env) start() {
	t := e.t
	t.Helper()
	var err error
	cc := cache.DefaultConfig()
	if e.s3cfg != nil {
		s, err := s3.New(context.Background(), *e.s3cfg)
		if err != nil {
			t.Fatal(err)
		}
		// As `filegate serve` composes it: the store behind the one
		// retry layer.
		if e.store, err = retry.New(s, retry.DefaultConfig()); err != nil {
			t.Fatal(err)
		}
		e.closeStore = s.Close
		// Upload at once, so the tests exercise the bucket, not only
		// the cache.
		cc.UploadDelay = 0
	} else {
		pc := posix.DefaultConfig()
		pc.Root = e.storeDir
		ps, err := posix.New(pc)
		if err != nil {
			t.Fatal(err)
		}
		e.store, e.closeStore = ps, ps.Close
	}
	cc.Dir, cc.Store, cc.Logger = e.cacheDir, e.store, testLogger()
	if e.cache, err = cache.New(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = testLogger()
	if e.timeout > 0 {
		cfg.OpTimeout = e.timeout
	}
	var n nodes = e.cache
	if e.wrap != nil {
		n = e.wrap(n)
	}
	if e.srv, err = newServer(cfg, n); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().(*net.TCPAddr)
	e.served = make(chan error, 1)
	go func() { e.served <- e.srv.Serve(context.Background(), l) }()
	e.client, e.target, err = dial(e.addr, "/")
	if err != nil {
		t.Fatal(err)
	}
	if _, e.rootFH, err = e.target.Lookup("/"); err != nil {
		t.Fatal(err)
	}
}

// dial mounts export at addr. go-nfs serves MOUNT and NFS on one port
// and there is no portmapper, so the client is built by hand.
func dial(addr *net.TCPAddr, export string) (*rpc.Client, *nfsc.Target, error) {
	c, err := nfsc.DialServiceAtPort(addr.IP.String(), addr.Port)
	if err != nil {
		return nil, nil, err
	}
	m := &nfsc.Mount{Client: c}
	tg, err := m.Mount(export, rpc.AuthNull)
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, tg, nil
}

func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.client.Close()
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("server close: %v", err)
	}
	if err := <-e.served; err != nil {
		e.t.Errorf("serve: %v", err)
	}
	if e.s3cfg != nil {
		// Every change must reach the bucket: a change S3 refused would
		// hang here, or show in the stats.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if err := e.cache.Flush(ctx); err != nil {
			e.t.Errorf("flush to S3: %v (stats %+v)", err, e.cache.Stats())
		}
		cancel()
		if st := e.cache.Stats(); st.UploadErrors != 0 {
			e.t.Errorf("%d failed uploads to S3; last: %s", st.UploadErrors, st.LastError)
		}
	}
	if err := e.cache.Close(); err != nil {
		e.t.Errorf("cache close: %v", err)
	}
	if err := e.closeStore(); err != nil {
		e.t.Errorf("store close: %v", err)
	}
	e.srv = nil
}

// withS3 makes the env's backend a fresh bucket of the shared versitygw
// server (see s3test), so the test runs against a real S3 server.
func withS3(e *env) {
	cfg := s3test.Shared(e.t).NewBucket(e.t)
	// The smallest parts, so a few MiB exercise multipart uploads.
	cfg.PartSize = s3.MinPartSize
	e.s3cfg = &cfg
}

// backends are the stores the end-to-end tests run on.
var backends = []struct {
	name string
	opt  func(*env)
}{
	{"posix", func(*env) {}},
	{"s3", withS3},
}

// forEachBackend runs fn as a subtest per backend; fn passes the option
// it gets to newEnv.
func forEachBackend(t *testing.T, fn func(t *testing.T, backend func(*env))) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { fn(t, b.opt) })
	}
}

// restart stops the server and the cache and opens both again on the
// same directories, with a new client.
func (e *env) restart() {
	e.stop()
	e.start()
}

// openFDs counts the process's open file descriptors (Linux only).
func openFDs(t testing.TB) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// checkFDs fails t if more descriptors are open than before. go-nfs's
// connection goroutines close theirs shortly after the server closes them,
// so allow a moment.
func checkFDs(t testing.TB, before int) {
	if before < 0 {
		return
	}
	var now int
	for range 100 {
		if now = openFDs(t); now <= before {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	var names []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, l)
	}
	t.Errorf("leaked file descriptors: %d open, %d before: %q", now, before, names)
}

// nfsStatus is the NFS3 status of an error from go-nfs-client, or 0.
func nfsStatus(err error) uint32 {
	var ne *nfsc.Error
	switch {
	case err == nil:
		return nfsc.NFS3Ok
	case errors.As(err, &ne):
		return ne.ErrorNum
	case errors.Is(err, os.ErrNotExist):
		return nfsc.NFS3ErrNoEnt
	case errors.Is(err, os.ErrExist):
		return nfsc.NFS3ErrExist
	case errors.Is(err, os.ErrPermission):
		return nfsc.NFS3ErrPerm
	}
	return 1 << 31
}

// call issues one raw NFSv3 procedure with args (a struct of the
// procedure's arguments, in wire order) and returns the reply after the
// status, and the status.
func (e *env) call(proc uint32, args any) (io.ReadSeeker, uint32) {
	e.t.Helper()
	return rawCall(e.t, e.client, proc, args)
}

func rawCall(t testing.TB, c *rpc.Client, proc uint32, args any) (io.ReadSeeker, uint32) {
	t.Helper()
	res, err := c.Call(&struct {
		rpc.Header
		Args any
	}{
		Header: rpc.Header{Rpcvers: 2, Prog: nfsc.Nfs3Prog, Vers: nfsc.Nfs3Vers, Proc: proc, Cred: rpc.AuthNull, Verf: rpc.AuthNull},
		Args:   args,
	})
	if err != nil {
		t.Fatalf("rpc %d: %v", proc, err)
	}
	st, err := xdr.ReadUint32(res)
	if err != nil {
		t.Fatalf("rpc %d status: %v", proc, err)
	}
	return res, st
}

// getattr returns the attributes of fh, or the status.
func (e *env) getattr(fh []byte) (nfsc.Fattr, uint32) {
	e.t.Helper()
	res, st := e.call(nfsc.NFSProc3GetAttr, struct{ FH []byte }{fh})
	var a nfsc.Fattr
	if st == nfsc.NFS3Ok {
		if err := xdr.Read(res, &a); err != nil {
			e.t.Fatal(err)
		}
	}
	return a, st
}

// lookup returns the handle of name in dir, or the status.
func (e *env) lookup(dir []byte, name string) ([]byte, uint32) {
	e.t.Helper()
	res, st := e.call(nfsc.NFSProc3Lookup, nfsc.Diropargs3{FH: dir, Filename: name})
	if st != nfsc.NFS3Ok {
		return nil, st
	}
	fh, err := xdr.ReadOpaque(res)
	if err != nil {
		e.t.Fatal(err)
	}
	return fh, st
}

// lookupPath walks p from the root with LOOKUPs.
func (e *env) lookupPath(p string) []byte {
	e.t.Helper()
	_, fh, err := e.target.Lookup(p)
	if err != nil {
		e.t.Fatalf("lookup %s: %v", p, err)
	}
	return fh
}

// read reads count bytes at off from fh.
func (e *env) read(fh []byte, off uint64, count uint32) ([]byte, bool, uint32) {
	e.t.Helper()
	res, st := e.call(nfsc.NFSProc3Read, struct {
		FH     []byte
		Offset uint64
		Count  uint32
	}{fh, off, count})
	if st != nfsc.NFS3Ok {
		return nil, false, st
	}
	var r struct {
		Attr  nfsc.PostOpAttr
		Count uint32
		EOF   bool
		Data  []byte
	}
	if err := xdr.Read(res, &r); err != nil {
		e.t.Fatal(err)
	}
	return r.Data, r.EOF, st
}

// write writes data at off to fh, FILE_SYNC.
func (e *env) write(fh []byte, off uint64, data []byte) uint32 {
	e.t.Helper()
	res, st := e.call(nfsc.NFSProc3Write, struct {
		FH     []byte
		Offset uint64
		Count  uint32
		How    uint32
		Data   []byte
	}{fh, off, uint32(len(data)), 2, data})
	if st == nfsc.NFS3Ok {
		var r struct {
			Wcc       nfsc.WccData
			Count     uint32
			How       uint32
			WriteVerf uint64
		}
		if err := xdr.Read(res, &r); err != nil {
			e.t.Fatal(err)
		}
		if r.Count != uint32(len(data)) || r.How != 2 {
			e.t.Fatalf("write: count %d how %d", r.Count, r.How)
		}
	}
	return st
}

// readFile reads p whole through the client.
func (e *env) readFile(p string) []byte {
	e.t.Helper()
	f, err := e.target.Open(p)
	if err != nil {
		e.t.Fatalf("open %s: %v", p, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		e.t.Fatalf("read %s: %v", p, err)
	}
	return b
}

// writeFile creates p (or opens it) and writes data at offset 0.
func (e *env) writeFile(p string, data []byte) {
	e.t.Helper()
	f, err := e.target.OpenFile(p, 0o644)
	if err != nil {
		e.t.Fatalf("create %s: %v", p, err)
	}
	if _, err := f.Write(data); err != nil {
		e.t.Fatalf("write %s: %v", p, err)
	}
	if err := f.Close(); err != nil {
		e.t.Fatalf("close %s: %v", p, err)
	}
}

func statusName(st uint32) string {
	if st == 0 {
		return "NFS3_OK"
	}
	if err := nfsc.NFS3Error(st); err != nil {
		return err.Error()
	}
	return strconv.Itoa(int(st))
}
