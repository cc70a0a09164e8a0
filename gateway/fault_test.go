package gateway

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
	"github.com/willscott/go-nfs-client/nfs/xdr"

	"github.com/filegate/filegate/cache"
)

// faultNodes wraps the cache, calling a hook (if set) before some
// methods; a hook's error is returned instead of calling the cache.
type faultNodes struct {
	nodes
	getattr atomic.Pointer[func(context.Context, cache.Ino) error]
	lookup  atomic.Pointer[func(context.Context, string) error]
	readAt  atomic.Pointer[func(context.Context) error]
	writeAt atomic.Pointer[func(context.Context) error]
}

func hook[F any](p *atomic.Pointer[F], f F) { p.Store(&f) }

func (f *faultNodes) GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error) {
	if h := f.getattr.Load(); h != nil {
		if err := (*h)(ctx, ino); err != nil {
			return cache.Attr{}, err
		}
	}
	return f.nodes.GetAttr(ctx, ino)
}

func (f *faultNodes) Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error) {
	if h := f.lookup.Load(); h != nil {
		if err := (*h)(ctx, name); err != nil {
			return cache.Attr{}, err
		}
	}
	return f.nodes.Lookup(ctx, dir, name)
}

func (f *faultNodes) ReadAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error) {
	if h := f.readAt.Load(); h != nil {
		if err := (*h)(ctx); err != nil {
			return 0, err
		}
	}
	return f.nodes.ReadAt(ctx, ino, p, off)
}

func (f *faultNodes) WriteAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error) {
	if h := f.writeAt.Load(); h != nil {
		if err := (*h)(ctx); err != nil {
			return 0, err
		}
	}
	return f.nodes.WriteAt(ctx, ino, p, off)
}

func newFaultEnv(t *testing.T, timeout time.Duration) (*env, *faultNodes) {
	fn := &faultNodes{}
	e := newEnv(t, func(e *env) {
		e.timeout = timeout
		e.wrap = func(n nodes) nodes { fn.nodes = n; return fn }
	})
	return e, fn
}

// TestTransientErrorIsNotStale: a handle the cache cannot check for a
// passing reason gets NFS3ERR_IO, which clients retry, not NFS3ERR_STALE,
// which they take as the file (or, for the root, the mount) being gone.
func TestTransientErrorIsNotStale(t *testing.T) {
	e, fn := newFaultEnv(t, 0)
	e.writeFile("f", []byte("x"))
	fh := e.lookupPath("f")
	hook(&fn.getattr, func(context.Context, cache.Ino) error { return syscall.EIO })
	for name, h := range map[string][]byte{"root": e.rootFH, "file": fh} {
		if _, st := e.getattr(h); st != nfsc.NFS3ErrIO {
			t.Errorf("%s: getattr = %s, want NFS3ERR_IO", name, statusName(st))
		}
	}
	if _, st := e.lookup(e.rootFH, ".."); st == nfsc.NFS3Ok {
		t.Error("lookup .. of an unchecked handle succeeded")
	}
	fn.getattr.Store(nil)
	if _, st := e.getattr(fh); st != nfsc.NFS3Ok {
		t.Fatalf("after recovery: %s", statusName(st))
	}
}

func TestPanicBecomesEIO(t *testing.T) {
	e, fn := newFaultEnv(t, 0)
	e.writeFile("f", []byte("x"))
	fh := e.lookupPath("f")
	hook(&fn.readAt, func(context.Context) error { panic("injected") })
	if _, _, st := e.read(fh, 0, 10); st != nfsc.NFS3ErrIO {
		t.Fatalf("read = %s, want NFS3ERR_IO", statusName(st))
	}
	fn.readAt.Store(nil)
	if data, _, st := e.read(fh, 0, 10); st != 0 || string(data) != "x" {
		t.Fatalf("after panic: %q %s", data, statusName(st))
	}
}

func TestNoSpace(t *testing.T) {
	e, fn := newFaultEnv(t, 0)
	e.writeFile("f", nil)
	fh := e.lookupPath("f")
	hook(&fn.writeAt, func(context.Context) error { return syscall.ENOSPC })
	if st := e.write(fh, 0, []byte("x")); st != nfsc.NFS3ErrNoSpc {
		t.Fatalf("write = %s, want NFS3ERR_NOSPC", statusName(st))
	}
}

// TestOpTimeout: a cache call that hangs is cut off after OpTimeout and
// the connection serves the next request.
func TestOpTimeout(t *testing.T) {
	e, fn := newFaultEnv(t, 100*time.Millisecond)
	hook(&fn.lookup, func(ctx context.Context, name string) error {
		if name != "hang" {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	})
	start := time.Now()
	if _, st := e.lookup(e.rootFH, "hang"); st == nfsc.NFS3Ok {
		t.Fatal("hung lookup succeeded")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("hung lookup took %v", d)
	}
	if _, st := e.getattr(e.rootFH); st != nfsc.NFS3Ok {
		t.Fatalf("next request: %s", statusName(st))
	}
}

// TestCloseWaitsForRequests: Close returns only when no request is
// inside the cache, so the cache may be closed right after.
func TestCloseWaitsForRequests(t *testing.T) {
	e, fn := newFaultEnv(t, time.Minute)
	e.writeFile("f", nil)
	fh := e.lookupPath("f")
	entered, release := make(chan struct{}), make(chan struct{})
	var inside atomic.Bool
	hook(&fn.writeAt, func(ctx context.Context) error {
		inside.Store(true)
		close(entered)
		<-release
		inside.Store(false)
		return nil
	})
	// Send the WRITE on a connection of our own, without waiting for a
	// reply that never comes (Close drops the connection).
	raw, err := net.Dial("tcp", e.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var msg bytes.Buffer
	if err := xdr.Write(&msg, &struct {
		Xid, Type uint32
		rpc.Header
		FH     []byte
		Offset uint64
		Count  uint32
		How    uint32
		Data   []byte
	}{1, 0, rpc.Header{Rpcvers: 2, Prog: nfsc.Nfs3Prog, Vers: nfsc.Nfs3Vers, Proc: nfsc.NFSProc3Write,
		Cred: rpc.AuthNull, Verf: rpc.AuthNull}, fh, 0, 1, 2, []byte("x")}); err != nil {
		t.Fatal(err)
	}
	frame := binary.BigEndian.AppendUint32(nil, 1<<31|uint32(msg.Len()))
	if _, err := raw.Write(append(frame, msg.Bytes()...)); err != nil {
		t.Fatal(err)
	}
	<-entered
	closed := make(chan struct{})
	go func() {
		e.srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
		t.Fatal("Close returned while a request was inside the cache")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if inside.Load() {
		t.Fatal("request still inside the cache after Close")
	}
	// Requests after Close are refused without touching the cache.
	if _, err := e.srv.h.fs.Stat("f"); err == nil {
		t.Fatal("Stat after Close succeeded")
	}
}
