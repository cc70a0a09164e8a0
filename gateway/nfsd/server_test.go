package nfsd

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"export path", func(c *Config) { c.Export.Name = "/srv/share" }, ""},
		{"all squash", func(c *Config) { c.Export.Squash = SquashAll }, ""},
		{"client list", func(c *Config) { c.Export.Clients = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }, ""},
		{"relative export", func(c *Config) { c.Export.Name = "share" }, "export name"},
		{"empty export", func(c *Config) { c.Export.Name = "" }, "export name"},
		{"unclean export", func(c *Config) { c.Export.Name = "/a/../b/" }, "export name"},
		{"trailing slash", func(c *Config) { c.Export.Name = "/srv/share/" }, "export name"},
		{"unknown squash", func(c *Config) { c.Export.Squash = 7 }, "squash"},
		{"invalid client", func(c *Config) { c.Export.Clients = []netip.Prefix{{}} }, "client prefix"},
		{"zero timeout", func(c *Config) { c.OpTimeout = 0 }, "OpTimeout"},
		{"no connection requests", func(c *Config) { c.ConnRequests = 0 }, "ConnRequests"},
		{"no requests", func(c *Config) { c.MaxRequests = 0 }, "MaxRequests"},
		{"no logger", func(c *Config) { c.Logger = nil }, "Logger"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Validate() = %v, want error about %q", err, tc.wantErr)
			}
			if _, nerr := New(cfg, stubNodes{}); (nerr == nil) != (err == nil) {
				t.Fatalf("New = %v, Validate = %v", nerr, err)
			}
		})
	}
	if _, err := New(DefaultConfig(), nil); err == nil {
		t.Fatal("New with a nil cache succeeded")
	}
}

// TestServeUntilCancel: cancelling Serve's ctx stops the server and
// drops its clients, and Serve returns nil once no request is inside the
// cache any more; a stopped server serves no more.
func TestServeUntilCancel(t *testing.T) {
	srv, fn, ra := newServerOverFaults(t)
	l := listenLocal(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := holdLookup(fn, "hang")
	served := h.serve(srv, ctx, l)
	c := h.send(t, l.Addr(), ra)
	if n := len(srv.Clients()); n != 1 {
		t.Fatalf("%d clients", n)
	}
	waiting := make(chan struct{})
	srv.waitHook = sync.OnceFunc(func() { close(waiting) })
	cancel()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("Serve never started waiting for the requests")
	}
	select {
	case r := <-served:
		close(h.release)
		t.Fatalf("Serve returned (%v) while a request was inside the cache", r.err)
	default:
	}
	h.releaseAndWait(t, served)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("client connection still open")
	}
	if n := len(srv.Clients()); n != 0 {
		t.Fatalf("%d clients after stop", n)
	}
	must(t, srv.Close())
	if err := srv.Serve(context.Background(), listenLocal(t)); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
}

// TestServeCancelAtAccept: a connection accepted just as shutdown
// begins is dropped, and Serve still returns only once no request is
// inside the cache. The listener holds that connection until shutdown
// has started, so Serve meets a closed server with it every time.
func TestServeCancelAtAccept(t *testing.T) {
	srv, fn, ra := newServerOverFaults(t)
	// The first shutdown is the watcher's on cancel; a second is Serve
	// waiting as well.
	started, serveWaits := make(chan struct{}), make(chan struct{})
	var waits atomic.Int32
	srv.waitHook = func() {
		switch waits.Add(1) {
		case 1:
			close(started)
		case 2:
			close(serveWaits)
		}
	}
	accepted := make(chan struct{})
	l := &hookListener{Listener: listenLocal(t), hook: func(n int) {
		if n == 2 {
			close(accepted)
			<-started
		}
	}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := holdLookup(fn, "hang")
	served := h.serve(srv, ctx, l)
	h.send(t, l.Addr(), ra)
	late, err := net.Dial("tcp", l.Addr().String())
	must(t, err)
	defer late.Close()
	select {
	case <-accepted:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("the second connection was never accepted")
	}
	cancel()
	select {
	case r := <-served:
		close(h.release)
		t.Fatalf("Serve returned (%v) while a request was inside the cache", r.err)
	case <-serveWaits:
	case <-time.After(10 * time.Second):
		close(h.release)
		t.Fatal("Serve neither returned nor waited for the requests")
	}
	h.releaseAndWait(t, served)
}

// newServerOverFaults returns a server over a fresh cache wrapped in
// faultNodes, and the cache's root attributes.
func newServerOverFaults(t *testing.T) (*Server, *faultNodes, cache.Attr) {
	t.Helper()
	c := newCache(t)
	ra, err := c.GetAttr(context.Background(), cache.RootIno)
	must(t, err)
	fn := &faultNodes{Nodes: c}
	cfg := DefaultConfig()
	cfg.Logger = testutil.Logger()
	srv, err := New(cfg, fn)
	must(t, err)
	t.Cleanup(func() { srv.Close() })
	return srv, fn, ra
}

// heldLookup holds a LOOKUP of one name inside the cache, so a test can
// check that shutdown waits for it.
type heldLookup struct {
	name             string
	entered, release chan struct{}
	inside           atomic.Bool
}

// holdLookup makes fn hold the LOOKUP of name until release is closed.
func holdLookup(fn *faultNodes, name string) *heldLookup {
	h := &heldLookup{name: name, entered: make(chan struct{}), release: make(chan struct{})}
	fn.set(func(_ context.Context, op, n string) error {
		if op == "lookup" && n == name {
			h.inside.Store(true)
			close(h.entered)
			<-h.release
			h.inside.Store(false)
		}
		return nil
	})
	return h
}

// send sends the LOOKUP of the held name in the root folder root over a
// new connection to addr, and waits until it is inside the cache.
func (h *heldLookup) send(t *testing.T, addr net.Addr, root cache.Attr) *rawClient {
	t.Helper()
	c := dialRaw(t, addr)
	fh := fileHandle{ExportID: 1, Ino: root.Ino, Gen: root.Gen}.append(nil)
	_, err := c.start(progNFS, 3, 3, rootCred, new(args).fh(fh).name(h.name).bytes())
	must(t, err)
	<-h.entered
	return c
}

// serveResult is how Serve returned: its error, and whether the held
// LOOKUP was inside the cache at that moment (read as it returned, not
// once the test looks).
type serveResult struct {
	err    error
	inside bool
}

// serve runs srv.Serve(ctx, l) in the background.
func (h *heldLookup) serve(srv *Server, ctx context.Context, l net.Listener) <-chan serveResult {
	served := make(chan serveResult, 1)
	go func() {
		err := srv.Serve(ctx, l)
		served <- serveResult{err, h.inside.Load()}
	}()
	return served
}

// releaseAndWait lets the held LOOKUP go on and checks that Serve then
// returns nil, with no request left inside the cache.
func (h *heldLookup) releaseAndWait(t *testing.T, served <-chan serveResult) {
	t.Helper()
	close(h.release)
	select {
	case r := <-served:
		if r.err != nil {
			t.Fatalf("Serve = %v", r.err)
		}
		if r.inside {
			t.Fatal("request still inside the cache when Serve returned")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}

// hookListener calls hook with the count of connections accepted so
// far before Serve gets each one, so a test can hold one there.
type hookListener struct {
	net.Listener
	hook func(n int)
	n    int // Accept runs on Serve's goroutine only
}

func (l *hookListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err == nil {
		l.n++
		l.hook(l.n)
	}
	return nc, err
}

// TestClients lists the connected clients as the server sees them.
func TestClients(t *testing.T) {
	e := newEnv(t)
	if cl := e.srv.Clients(); len(cl) != 1 {
		t.Fatalf("clients %q", cl)
	}
	c := e.raw()
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}
	cl := e.srv.Clients()
	var found bool
	for _, a := range cl {
		found = found || a.Addr == c.nc.LocalAddr().String()
		if ap, err := netip.ParseAddrPort(a.Addr); err != nil || !ap.Addr().IsLoopback() {
			t.Fatalf("client %q: %v", a.Addr, err)
		}
		if a.Since.IsZero() || a.Since.After(time.Now()) {
			t.Fatalf("client %q connected at %v", a.Addr, a.Since)
		}
	}
	if len(cl) != 2 || !found {
		t.Fatalf("clients %v, want 2 with %s", cl, c.nc.LocalAddr())
	}
	// A connection leaves the list when its goroutine ends, just after
	// the client hangs up.
	c.close()
	e.client.Close()
	if !testutil.Poll(10*time.Second, func() bool { return len(e.srv.Clients()) == 0 }) {
		t.Fatalf("clients after disconnect: %q", e.srv.Clients())
	}
}

// mnt sends MOUNT v3 MNT of dirpath with cred (nil: AUTH_NONE) and
// returns the status, the root handle and the auth flavors.
func mnt(t *testing.T, c *rawClient, cred []byte, dirpath string) (uint32, []byte, []uint32) {
	t.Helper()
	r := c.call(t, progMount, 3, 1, cred, new(args).name(dirpath).bytes())
	if r.accept != acceptSuccess {
		t.Fatalf("MNT %q: accept %d", dirpath, r.accept)
	}
	st := r.d.uint32()
	if st != mnt3OK {
		return st, nil, nil
	}
	fh := r.d.opaque(maxHandle)
	flavors := make([]uint32, r.d.uint32())
	for i := range flavors {
		flavors[i] = r.d.uint32()
	}
	if r.d.err != nil {
		t.Fatalf("MNT %q: bad reply", dirpath)
	}
	return st, fh, flavors
}

// TestMountPolicy: MNT answers the export's name and the folders below
// it, and nothing else; the handle is the root's (or the folder's) with
// the export's id; AUTH_UNIX is offered first.
func TestMountPolicy(t *testing.T) {
	e := newEnv(t, func(e *env) { e.cfg.Export.Name, e.cfg.Export.ID = "/srv/share", 7 })
	// "s" too: "/srv/shares" is not the folder s of "/srv/share".
	for _, d := range []string{"sub", "s"} {
		_, err := e.target.Mkdir(d, 0o755)
		must(t, err)
	}
	e.writeFile("file", nil)
	c := e.raw()
	for _, tc := range []struct {
		dirpath string
		cred    []byte
		want    uint32
		ino     cache.Ino
	}{
		{"/srv/share", rootCred, mnt3OK, cache.RootIno},
		{"/srv/share/", nil, mnt3OK, cache.RootIno},
		{"srv/share", rootCred, mnt3OK, cache.RootIno},
		{"/srv/share/sub", rootCred, mnt3OK, 0},
		{"/", rootCred, mnt3ErrNoEnt, 0},
		{"", rootCred, mnt3ErrNoEnt, 0},
		{"/srv", rootCred, mnt3ErrNoEnt, 0},
		{"/srv/shares", rootCred, mnt3ErrNoEnt, 0},
		{"/srv/share/missing", rootCred, mnt3ErrNoEnt, 0},
		{"/srv/share/file", rootCred, mnt3ErrNoEnt, 0},
	} {
		st, fh, flavors := mnt(t, c, tc.cred, tc.dirpath)
		if st != tc.want {
			t.Errorf("MNT %q = %d, want %d", tc.dirpath, st, tc.want)
			continue
		}
		if st != mnt3OK {
			continue
		}
		h, ok := parseHandle(fh)
		if !ok || h.ExportID != 7 || tc.ino != 0 && h.Ino != tc.ino {
			t.Errorf("MNT %q: handle %+v", tc.dirpath, h)
		}
		if len(flavors) != 2 || flavors[0] != authFlavUnix || flavors[1] != authFlavNone {
			t.Errorf("MNT %q: flavors %v", tc.dirpath, flavors)
		}
	}
	if _, fh, _ := mnt(t, c, rootCred, "/srv/share/sub"); string(fh) != string(e.lookupPath("sub")) {
		t.Errorf("MNT of a folder: %x, want its handle", fh)
	}
	// RPCSEC_GSS, which the server cannot check, is refused before MNT.
	xid, b := c.callHdr(progMount, 3, 1, rootCred)
	binary.BigEndian.PutUint32(b[28:], 6)
	b = append(b, new(args).name("/srv/share").bytes()...)
	recordMark(b, 0)
	ch, err := c.send(xid, b)
	must(t, err)
	if r := waitReply(t, ch); r.accept != 1000+rejectAuthError {
		t.Fatalf("MNT with RPCSEC_GSS: accept %d, want AUTH_ERROR", r.accept)
	}
}
