package nfsd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/backend/stack"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

// env is one server over a cache over a store, served on 127.0.0.1 and
// mounted by go-nfs-client as root (AUTH_UNIX uid 0, no squash unless an
// option says otherwise). The store is a posix one in a temporary
// directory, or (withS3) a bucket of the shared versitygw server; both
// survive restart.
type env struct {
	t        testing.TB
	cacheDir string
	storeDir string
	cfg      Config
	s3cfg    *s3.Config        // the S3 backend's, if set
	wrap     func(Nodes) Nodes // fault injection, if set

	store  backend.Store
	closeS func() error
	cache  *cache.Cache
	srv    *Server
	served chan error
	addr   *net.TCPAddr
	client *rpc.Client
	target *nfsc.Target
	rootFH []byte
}

// newEnv starts an env and stops it at the end of the test, checking
// that every file it opened is closed again; opts adjust it (its cfg,
// its store) before start.
func newEnv(t testing.TB, opts ...func(*env)) *env {
	t.Helper()
	e := &env{t: t, cacheDir: t.TempDir(), storeDir: t.TempDir(), cfg: DefaultConfig()}
	e.cfg.Export.Squash = SquashNone
	e.cfg.Logger = testutil.Logger()
	for _, o := range opts {
		o(e)
	}
	// After the options: the shared S3 server they may start lives on.
	fds := testutil.OpenFDs()
	t.Cleanup(func() {
		e.stop()
		testutil.CheckFDs(t, fds)
	})
	e.start()
	return e
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
		// As `filegate serve` composes it, less the bandwidth limit.
		rc := retry.DefaultConfig()
		st, err := stack.New(stack.Config{Store: s, Retry: &rc})
		if err != nil {
			t.Fatal(err)
		}
		e.store = st.Store
		e.closeS = s.Close
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
		e.store, e.closeS = ps, ps.Close
	}
	cc.Dir, cc.Store, cc.Logger = e.cacheDir, e.store, testutil.Logger()
	if e.cache, err = cache.New(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	var n Nodes = e.cache
	if e.wrap != nil {
		n = e.wrap(n)
	}
	if e.srv, err = New(e.cfg, n); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = l.Addr().(*net.TCPAddr)
	e.served = make(chan error, 1)
	go func() { e.served <- e.srv.Serve(context.Background(), l) }()
	e.client, e.target, err = dial(e.addr, e.cfg.Export.Name, rpc.NewAuthUnix("test", 0, 0).Auth())
	if err != nil {
		t.Fatal(err)
	}
	if _, e.rootFH, err = e.target.Lookup("/"); err != nil {
		t.Fatal(err)
	}
}

func dial(addr *net.TCPAddr, export string, auth rpc.Auth) (*rpc.Client, *nfsc.Target, error) {
	c, err := nfsc.DialServiceAtPort(addr.IP.String(), addr.Port)
	if err != nil {
		return nil, nil, err
	}
	m := &nfsc.Mount{Client: c}
	tg, err := m.Mount(export, auth)
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
	if err := e.closeS(); err != nil {
		e.t.Errorf("store close: %v", err)
	}
	e.srv = nil
}

// restart stops the server and the cache and opens both again on the
// same directories (and bucket), with a new client.
func (e *env) restart() {
	e.stop()
	e.start()
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

// nfsStatus is the NFS3 status of an error from go-nfs-client, or 0.
func nfsStatus(err error) uint32 {
	var ne *nfsc.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ne):
		return ne.ErrorNum
	case errors.Is(err, os.ErrNotExist):
		return nfs3ErrNoEnt
	case errors.Is(err, os.ErrExist):
		return nfs3ErrExist
	case errors.Is(err, os.ErrPermission):
		return nfs3ErrPerm
	}
	return 1 << 31
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

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

func (e *env) lookupPath(p string) []byte {
	e.t.Helper()
	_, fh, err := e.target.Lookup(p)
	if err != nil {
		e.t.Fatalf("lookup %s: %v", p, err)
	}
	return fh
}

// rawClient is a minimal pipelining ONC RPC client over TCP: calls are
// sent as they come and replies matched by xid, so many may be
// outstanding on one connection.
type rawClient struct {
	nc   net.Conn
	wmu  sync.Mutex
	mu   sync.Mutex
	xid  uint32
	wait map[uint32]chan []byte
	err  error
	done chan struct{}
}

func dialRaw(t testing.TB, addr net.Addr) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{nc: nc, wait: map[uint32]chan []byte{}, done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func (c *rawClient) close() {
	c.nc.Close()
	<-c.done
}

func (c *rawClient) readLoop() {
	defer close(c.done)
	r := bufio.NewReaderSize(c.nc, 1<<20)
	for {
		var rec []byte
		for {
			var hdr [4]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				c.fail(err)
				return
			}
			h := binary.BigEndian.Uint32(hdr[:])
			n := int(h &^ (1 << 31))
			start := len(rec)
			rec = append(rec, make([]byte, n)...)
			if _, err := io.ReadFull(r, rec[start:]); err != nil {
				c.fail(err)
				return
			}
			if h&(1<<31) != 0 {
				break
			}
		}
		if len(rec) < 4 {
			continue
		}
		xid := binary.BigEndian.Uint32(rec)
		c.mu.Lock()
		ch := c.wait[xid]
		delete(c.wait, xid)
		c.mu.Unlock()
		if ch != nil {
			ch <- rec
		}
	}
}

func (c *rawClient) fail(err error) {
	c.mu.Lock()
	c.err = err
	for x, ch := range c.wait {
		close(ch)
		delete(c.wait, x)
	}
	c.mu.Unlock()
}

// authUnix encodes an AUTH_UNIX credential body.
func authUnix(uid, gid uint32, gids ...uint32) []byte {
	var e encoder
	e.uint32(1)
	e.string("test")
	e.uint32(uid)
	e.uint32(gid)
	e.uint32(uint32(len(gids)))
	for _, g := range gids {
		e.uint32(g)
	}
	return e.b
}

// callHdr encodes a call header with cred (AUTH_UNIX body, or AUTH_NONE
// when nil); it returns the xid.
func (c *rawClient) callHdr(prog, vers, proc uint32, cred []byte) (uint32, []byte) {
	c.mu.Lock()
	c.xid++
	xid := c.xid
	c.mu.Unlock()
	e := encoder{b: make([]byte, 4, 256)}
	e.uint32(xid)
	e.uint32(msgCall)
	e.uint32(rpcVersion)
	e.uint32(prog)
	e.uint32(vers)
	e.uint32(proc)
	if cred == nil {
		e.uint32(0)
		e.uint32(0)
	} else {
		e.uint32(1)
		e.opaque(cred)
	}
	e.uint32(0)
	e.uint32(0)
	return xid, e.b
}

// start sends a call with args appended to its header and returns the
// channel its reply record arrives on (closed if the connection fails).
func (c *rawClient) start(prog, vers, proc uint32, cred, args []byte) (<-chan []byte, error) {
	xid, b := c.callHdr(prog, vers, proc, cred)
	b = append(b, args...)
	recordMark(b, 0)
	return c.send(xid, b)
}

func (c *rawClient) send(xid uint32, rec []byte) (<-chan []byte, error) {
	ch := make(chan []byte, 1)
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	c.wait[xid] = ch
	c.mu.Unlock()
	c.wmu.Lock()
	_, err := c.nc.Write(rec)
	c.wmu.Unlock()
	return ch, err
}

// reply is a decoded accepted reply: accept status and the results.
type reply struct {
	accept uint32
	d      decoder
}

// call makes one call and waits for its reply (10 s at most).
func (c *rawClient) call(t testing.TB, prog, vers, proc uint32, cred, args []byte) reply {
	t.Helper()
	ch, err := c.start(prog, vers, proc, cred, args)
	if err != nil {
		t.Fatal(err)
	}
	return waitReply(t, ch)
}

func waitReply(t testing.TB, ch <-chan []byte) reply {
	t.Helper()
	select {
	case rec, ok := <-ch:
		if !ok {
			t.Fatal("connection closed before the reply")
		}
		r, err := parseReply(rec)
		if err != nil {
			t.Fatal(err)
		}
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no reply in 10 s")
	}
	return reply{}
}

func parseReply(rec []byte) (reply, error) {
	d := decoder{b: rec}
	d.uint32() // xid
	if d.uint32() != msgReply {
		return reply{}, errors.New("not a reply")
	}
	if st := d.uint32(); st != msgAccepted {
		return reply{accept: 1000 + d.uint32()}, nil // denied: 1000+reject_stat
	}
	d.uint32()
	d.opaque(400)
	r := reply{accept: d.uint32()}
	if d.err != nil {
		return reply{}, fmt.Errorf("short reply header")
	}
	r.d = decoder{b: rec[d.off:]}
	return r, nil
}

// nfs calls NFSv3 proc with args and returns the NFS status and the
// decoder after it.
func (c *rawClient) nfs(t testing.TB, cred []byte, proc uint32, args []byte) (uint32, *decoder) {
	t.Helper()
	r := c.call(t, progNFS, 3, proc, cred, args)
	if r.accept != acceptSuccess {
		t.Fatalf("proc %d: accept status %d", proc, r.accept)
	}
	st := r.d.uint32()
	return st, &r.d
}

// args builds XDR arguments.
type args struct{ encoder }

func (a *args) fh(h []byte) *args   { a.opaque(h); return a }
func (a *args) name(s string) *args { a.string(s); return a }
func (a *args) u32(v uint32) *args  { a.uint32(v); return a }
func (a *args) u64(v uint64) *args  { a.uint64(v); return a }
func (a *args) noSattr() *args      { a.b = append(a.b, make([]byte, 24)...); return a }
func (a *args) modeSattr(m uint32) *args {
	a.u32(1).u32(m)
	a.b = append(a.b, make([]byte, 20)...)
	return a
}
func (a *args) bytes() []byte             { return a.b }
func (a *args) opaqueData(p []byte) *args { a.opaque(p); return a }

type rpcAuth = rpc.Auth

func listenLocal(t testing.TB) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}
