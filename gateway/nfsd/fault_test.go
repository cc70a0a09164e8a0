package nfsd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
)

// faultNodes wraps the cache and calls its hook (if set) before some
// methods with the operation ("getattr", "lookup", "read", "write" for
// both stable and unstable writes, "commit") and the name or inode it is
// about; a hook's error is returned instead of calling the cache.
type faultNodes struct {
	Nodes
	hook atomic.Pointer[func(ctx context.Context, op, arg string) error]
}

func (f *faultNodes) set(h func(ctx context.Context, op, arg string) error) { f.hook.Store(&h) }
func (f *faultNodes) clear()                                                { f.hook.Store(nil) }

func (f *faultNodes) fault(ctx context.Context, op, arg string) error {
	if h := f.hook.Load(); h != nil {
		return (*h)(ctx, op, arg)
	}
	return nil
}

func (f *faultNodes) GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error) {
	if err := f.fault(ctx, "getattr", fmt.Sprint(ino)); err != nil {
		return cache.Attr{}, err
	}
	return f.Nodes.GetAttr(ctx, ino)
}

func (f *faultNodes) Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error) {
	if err := f.fault(ctx, "lookup", name); err != nil {
		return cache.Attr{}, err
	}
	return f.Nodes.Lookup(ctx, dir, name)
}

func (f *faultNodes) ReadAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error) {
	if err := f.fault(ctx, "read", fmt.Sprint(ino)); err != nil {
		return 0, err
	}
	return f.Nodes.ReadAt(ctx, ino, p, off)
}

// Write calls the hook with "write" and, for a stable write, with
// "commit" too, as the commit it includes.
func (f *faultNodes) Write(ctx context.Context, ino cache.Ino, p []byte, off int64, o cache.WriteOpts) (int, cache.Change, error) {
	if err := f.fault(ctx, "write", fmt.Sprint(ino)); err != nil {
		return 0, cache.Change{}, err
	}
	if o.Stable {
		if err := f.fault(ctx, "commit", fmt.Sprint(ino)); err != nil {
			return 0, cache.Change{}, err
		}
	}
	return f.Nodes.Write(ctx, ino, p, off, o)
}

func (f *faultNodes) Commit(ctx context.Context, ino cache.Ino) (cache.Attr, error) {
	if err := f.fault(ctx, "commit", fmt.Sprint(ino)); err != nil {
		return cache.Attr{}, err
	}
	return f.Nodes.Commit(ctx, ino)
}

// newFaultEnv starts an env whose server calls the cache through a
// faultNodes; opts adjust it further.
func newFaultEnv(t *testing.T, opts ...func(*env)) (*env, *faultNodes) {
	fn := &faultNodes{}
	wrap := func(e *env) { e.wrap = func(n Nodes) Nodes { fn.Nodes = n; return fn } }
	return newEnv(t, append([]func(*env){wrap}, opts...)...), fn
}

// failOn makes op fail with err, for every argument.
func failOn(op string, err error) func(context.Context, string, string) error {
	return func(_ context.Context, o, _ string) error {
		if o == op {
			return err
		}
		return nil
	}
}

// TestTransientErrorIsNotStale: a handle the cache cannot check for a
// passing reason gets a status clients retry or report (IO, JUKEBOX,
// SERVERFAULT), never STALE, which they take as the file (or, for the
// root, the whole mount) being gone for good.
func TestTransientErrorIsNotStale(t *testing.T) {
	e, fn := newFaultEnv(t)
	e.writeFile("f", []byte("x"))
	fh := e.lookupPath("f")
	c := e.raw()
	for _, tc := range []struct {
		name string
		err  error
		want uint32
	}{
		{"disk error", fmt.Errorf("cache: getattr: %w", syscall.EIO), nfs3ErrIO},
		{"backend timeout", fmt.Errorf("cache: fetch: %w", context.DeadlineExceeded), nfs3ErrJukebox},
		{"no errno", errors.New("cache: database closed"), nfs3ErrServerFault},
	} {
		fn.set(failOn("getattr", tc.err))
		for name, h := range map[string][]byte{"root": e.rootFH, "file": fh} {
			if _, st := getattr(t, c, rootCred, h); st != tc.want {
				t.Errorf("%s: %s: getattr = %d, want %d", tc.name, name, st, tc.want)
			}
		}
		if _, st := lookup(t, c, rootCred, e.rootFH, ".."); st != tc.want {
			t.Errorf("%s: lookup .. of an unchecked root = %d, want %d", tc.name, st, tc.want)
		}
		if _, _, st := read(t, c, rootCred, fh, 0, 10); st != tc.want {
			t.Errorf("%s: read = %d, want %d", tc.name, st, tc.want)
		}
	}
	fn.clear()
	if _, st := getattr(t, c, rootCred, fh); st != 0 {
		t.Fatalf("after recovery: %d", st)
	}
}

// TestPanicBecomesIO: a panic in a cache call fails that one request with
// NFS3ERR_IO and a well-formed reply; the connection and the server go
// on.
func TestPanicBecomesIO(t *testing.T) {
	e, fn := newFaultEnv(t)
	e.writeFile("f", []byte("x"))
	fh := e.lookupPath("f")
	c := e.raw()
	fn.set(func(_ context.Context, op, _ string) error {
		if op == "read" || op == "write" {
			panic("injected")
		}
		return nil
	})
	if _, _, st := read(t, c, rootCred, fh, 0, 10); st != nfs3ErrIO {
		t.Fatalf("read = %d, want NFS3ERR_IO", st)
	}
	if st, _, _ := write(t, c, rootCred, fh, 0, fileSync, []byte("y")); st != nfs3ErrIO {
		t.Fatalf("write = %d, want NFS3ERR_IO", st)
	}
	fn.clear()
	if data, _, st := read(t, c, rootCred, fh, 0, 10); st != 0 || string(data) != "x" {
		t.Fatalf("after panic: %q %d", data, st)
	}
	if got := string(e.readFile("f")); got != "x" {
		t.Fatalf("through a new mount after panic: %q", got)
	}

	// Every procedure's IO reply is its resfail without attributes: the
	// same bytes after the status as its own reply to a STALE handle.
	gone := fileHandle{ExportID: 1, Ino: 1 << 50, Gen: 1}.append(nil)
	for proc, rest := range [][]byte{
		1:  nil,
		2:  new(args).noSattr().u32(0).bytes(),
		3:  new(args).name("x").bytes(),
		4:  new(args).u32(0x3f).bytes(),
		5:  nil,
		6:  new(args).u64(0).u32(10).bytes(),
		7:  new(args).u64(0).u32(1).u32(fileSync).opaqueData([]byte("x")).bytes(),
		8:  new(args).name("x").u32(createUnchecked).noSattr().bytes(),
		9:  new(args).name("x").noSattr().bytes(),
		10: new(args).name("x").noSattr().name("target").bytes(),
		11: new(args).name("x").u32(nf3Fifo).noSattr().bytes(),
		12: new(args).name("x").bytes(),
		13: new(args).name("x").bytes(),
		14: new(args).name("x").fh(gone).name("y").bytes(),
		15: new(args).fh(gone).name("x").bytes(),
		16: new(args).u64(0).u64(0).u32(4096).bytes(),
		17: new(args).u64(0).u64(0).u32(1024).u32(4096).bytes(),
		18: nil,
		19: nil,
		20: nil,
		21: new(args).u64(0).u32(0).bytes(),
	} {
		if proc == 0 {
			continue
		}
		body := func(fh []byte) (uint32, []byte) {
			st, d := c.nfs(t, rootCred, uint32(proc), append(new(args).fh(fh).bytes(), rest...))
			return st, d.b[d.off:]
		}
		fn.clear()
		st, stale := body(gone)
		if st != nfs3ErrStale {
			t.Fatalf("proc %d with a removed inode's handle: %d", proc, st)
		}
		fn.set(func(context.Context, string, string) error { panic("injected") })
		st, failed := body(e.rootFH)
		if st != nfs3ErrIO || string(failed) != string(stale) {
			t.Errorf("proc %d after a panic: %d %x, want NFS3ERR_IO %x", proc, st, failed, stale)
		}
	}
	fn.clear()
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatalf("after the panics: %d", st)
	}
}

// TestNoSpace: a full cache disk is NFS3ERR_NOSPC, whichever of write,
// unstable write or commit finds it.
func TestNoSpace(t *testing.T) {
	e, fn := newFaultEnv(t)
	e.writeFile("f", nil)
	fh := e.lookupPath("f")
	c := e.raw()
	for _, tc := range []struct {
		name, op string
		call     func() uint32
	}{
		{"FILE_SYNC write", "write", func() uint32 { st, _, _ := write(t, c, rootCred, fh, 0, fileSync, []byte("x")); return st }},
		{"UNSTABLE write", "write", func() uint32 { st, _, _ := write(t, c, rootCred, fh, 0, unstable, []byte("x")); return st }},
		{"FILE_SYNC write's commit", "commit", func() uint32 { st, _, _ := write(t, c, rootCred, fh, 0, fileSync, []byte("x")); return st }},
		{"COMMIT", "commit", func() uint32 {
			st, d := c.nfs(t, rootCred, 21, new(args).fh(fh).u64(0).u32(0).bytes())
			skipWcc(d)
			return st
		}},
	} {
		fn.set(failOn(tc.op, fmt.Errorf("cache: %s: %w", tc.op, syscall.ENOSPC)))
		if st := tc.call(); st != nfs3ErrNoSpc {
			t.Errorf("%s = %d, want NFS3ERR_NOSPC", tc.name, st)
		}
	}
}

// TestOpTimeout: a cache call that hangs is cut off after OpTimeout with
// JUKEBOX (the client retries later), and the connection serves the
// next request.
func TestOpTimeout(t *testing.T) {
	e, fn := newFaultEnv(t, func(e *env) { e.cfg.OpTimeout = 100 * time.Millisecond })
	// Should the timeout not cut it off, the hung call ends with the
	// test (the client gives up first), so the server can close.
	testDone := make(chan struct{})
	t.Cleanup(func() { close(testDone) })
	fn.set(func(ctx context.Context, op, name string) error {
		if op != "lookup" || name != "hang" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache: lookup: %w", ctx.Err())
		case <-testDone:
			return syscall.EIO
		}
	})
	c := e.raw()
	if _, st := lookup(t, c, rootCred, e.rootFH, "hang"); st != nfs3ErrJukebox {
		t.Fatalf("hung lookup = %d, want JUKEBOX", st)
	}
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatalf("next request: %d", st)
	}
}

// TestCloseWaitsForRequests: Close returns only when no request is
// inside the cache, so the cache may be closed right after; a server
// closed serves nothing more.
func TestCloseWaitsForRequests(t *testing.T) {
	e, fn := newFaultEnv(t, func(e *env) { e.cfg.OpTimeout = time.Minute })
	e.writeFile("f", nil)
	fh := e.lookupPath("f")
	entered, release := make(chan struct{}), make(chan struct{})
	var inside atomic.Bool
	fn.set(func(_ context.Context, op, _ string) error {
		if op != "write" {
			return nil
		}
		inside.Store(true)
		close(entered)
		<-release
		inside.Store(false)
		return nil
	})
	// Send the WRITE without waiting for a reply that never comes (Close
	// drops the connection).
	c := e.raw()
	_, err := c.start(progNFS, 3, 7, rootCred, new(args).fh(fh).u64(0).u32(1).u32(fileSync).opaqueData([]byte("x")).bytes())
	must(t, err)
	<-entered
	waiting := make(chan struct{})
	e.srv.waitHook = sync.OnceFunc(func() { close(waiting) })
	closed := make(chan struct{})
	var insideAtClose bool // read as Close returns, not once the test looks
	go func() {
		e.srv.Close()
		insideAtClose = inside.Load()
		close(closed)
	}()
	select {
	case <-waiting:
	case <-time.After(10 * time.Second):
		close(release)
		t.Fatal("Close never started waiting for the requests")
	}
	select {
	case <-closed:
		close(release)
		t.Fatal("Close returned while a request was inside the cache")
	default:
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	if insideAtClose {
		t.Fatal("request still inside the cache when Close returned")
	}
	// Nothing is served after Close: the listener is gone, and Serve on
	// another one refuses.
	if nc, err := net.DialTimeout("tcp", e.addr.String(), 5*time.Second); err == nil {
		nc.Close()
		t.Fatal("connected after Close")
	}
	if err := e.srv.Serve(context.Background(), listenLocal(t)); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
}
