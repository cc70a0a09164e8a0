package e2e

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/nfsd"
	"github.com/filegate/filegate/internal/testutil"
)

// env is one gateway in this process: a cache over a faultstore over a
// backend (POSIX or S3), served by gateway/nfsd on 127.0.0.1:0 and
// mounted by go-nfs-client.
type env struct {
	t     *testing.T
	cloud cloud
	fault *faultstore.Store
	cache *cache.Cache
	srv   *nfsd.Server
	// served gets Serve's result.
	served chan error
	nfs    *nfsClient
}

// envConfig adjusts an env before it starts.
type envConfig struct {
	cache     func(*cache.Config)
	opTimeout time.Duration
	// wrap, if set, returns the store the cache gets, given the
	// faultstore and the store it wraps.
	wrap func(fault *faultstore.Store, inner backend.Store) backend.Store
}

// newEnv starts an env on a new backend of kind and stops it at the end
// of the test, checking that every file it opened is closed again.
func newEnv(t *testing.T, kind string, ec envConfig) *env {
	t.Helper()
	if kind == "s3" {
		s3test.Shared(t) // its log file stays open for the whole run
	}
	fds := testutil.OpenFDs()
	// Runs last: after the env and the stores are closed.
	t.Cleanup(func() { testutil.CheckFDs(t, fds) })
	store, cl := openBackend(t, kind)
	e := &env{t: t, cloud: cl, fault: faultstore.New(store)}
	cc := cache.DefaultConfig()
	cc.Dir = t.TempDir()
	cc.Store = e.fault
	if ec.wrap != nil {
		cc.Store = ec.wrap(e.fault, store)
	}
	cc.Logger = testutil.Logger()
	// Retry failed uploads soon after a fault clears.
	cc.RetryMin, cc.RetryMax = 20*time.Millisecond, 200*time.Millisecond
	if ec.cache != nil {
		ec.cache(&cc)
	}
	var err error
	if e.cache, err = cache.New(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	nc := nfsd.DefaultConfig()
	// The client mounts with AUTH_NONE: anonymous callers act as root,
	// so these tests see the cache and the backend, not permissions
	// (gateway/nfsd's own tests and knfs perms-nfsd cover those).
	nc.Export.AnonUID, nc.Export.AnonGID = 0, 0
	nc.Logger = testutil.Logger()
	if ec.opTimeout > 0 {
		nc.OpTimeout = ec.opTimeout
	}
	if e.srv, err = nfsd.New(nc, e.cache); err != nil {
		e.cache.Close()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.cache.Close()
		t.Fatal(err)
	}
	e.served = make(chan error, 1)
	go func() { e.served <- e.srv.Serve(context.Background(), l) }()
	t.Cleanup(e.stop)
	if e.nfs, err = mount(l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	return e
}

// stop closes the client, the server, the cache, in that order. Faults
// are cleared first, so nothing waits on a stalled backend.
func (e *env) stop() {
	e.fault.Clear()
	if e.nfs != nil {
		e.nfs.Close()
	}
	if err := e.srv.Close(); err != nil {
		e.t.Errorf("server close: %v", err)
	}
	if err := <-e.served; err != nil {
		e.t.Errorf("serve: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- e.cache.Close() }()
	select {
	case err := <-done:
		if err != nil {
			e.t.Errorf("cache close: %v", err)
		}
	case <-time.After(hangLimit):
		e.t.Errorf("cache close did not return within %v", hangLimit)
	}
}

// setAll makes every backend method fail with f.
func (e *env) setAll(f faultstore.Fault) {
	for _, op := range []faultstore.Op{faultstore.Stat, faultstore.Get, faultstore.Put,
		faultstore.Delete, faultstore.List, faultstore.Copy} {
		e.fault.Set(op, f)
	}
}

// flush uploads everything, failing the test if that takes longer than
// d: after the backend is back, the write-back must drain.
func (e *env) flush(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := e.cache.Flush(ctx); err != nil {
		e.t.Fatalf("flush: %v (stats %+v)", err, e.cache.Stats())
	}
}

// lookupIno returns the inode of the directory at the slash path p
// ("" is the root).
func (e *env) lookupIno(p string) cache.Ino {
	e.t.Helper()
	ino := cache.RootIno
	if p == "" {
		return ino
	}
	for _, name := range splitPath(p) {
		a, err := e.cache.Lookup(context.Background(), ino, name)
		if err != nil {
			e.t.Fatalf("lookup %s: %v", p, err)
		}
		ino = a.Ino
	}
	return ino
}

func splitPath(p string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(p); i++ {
		if i == len(p) || p[i] == '/' {
			if i > start {
				out = append(out, p[start:i])
			}
			start = i + 1
		}
	}
	return out
}
