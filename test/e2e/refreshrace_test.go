package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/cache"
)

// TestRefreshDuringRename: a directory is renamed while a background
// refresh of its listing (its DirTTL passed) is waiting for the backend.
// The listing then comes from the old prefix, which the write-back has
// meanwhile moved away; the refresh must not take the files below for
// deleted in the cloud: a handle of such a file stays valid, and the
// file ends up at the new path in the backend.
func TestRefreshDuringRename(t *testing.T) {
	const dirTTL = 200 * time.Millisecond
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			sl := newSlowList("d/")
			e := newEnv(t, kind, envConfig{
				cache: func(c *cache.Config) {
					c.UploadDelay = 0
					c.DirTTL = dirTTL
				},
				// The rename reaches the backend as a real one (POSIX) or
				// as copies and deletes (S3), as in production.
				wrap: func(_ *faultstore.Store, inner backend.Store) backend.Store {
					sl.Store = inner
					if r, ok := inner.(backend.Renamer); ok {
						return slowListRenamer{sl, r}
					}
					return sl
				},
			})
			content := []byte("uploaded and clean")
			if _, err := e.nfs.Mkdir("/d", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := e.nfs.writeFile("/d/f.txt", content); err != nil {
				t.Fatal(err)
			}
			e.flush(10 * time.Second)
			_, fh, err := e.nfs.Lookup("/d/f.txt")
			if err != nil {
				t.Fatal(err)
			}
			dir := e.lookupIno("d")
			// DirTTL is told by the clock, so only time passing makes d's
			// listing due again: this waits for the clock, not for an
			// event. The margin covers the wall clock the TTL is
			// measured on against the monotonic one Sleep uses.
			time.Sleep(dirTTL + 50*time.Millisecond)

			sl.arm()
			if _, err := e.nfs.names("/d"); err != nil {
				t.Fatal(err)
			}
			sl.waitStarted(t) // the refresh of d/ is inside List now
			if err := e.nfs.Rename("/d", "/e"); err != nil {
				t.Fatal(err)
			}
			e.flush(10 * time.Second) // the backend has e/, no d/
			sl.finish(t)              // the refresh lists d/ and merges
			// A refresh of the same directory joins the one in flight
			// (a directory has one load at a time), so once it returns
			// the racing merge is done; its error is that refresh's,
			// which may have been dropped as raced.
			_ = e.cache.Refresh(context.Background(), dir)
			if _, err := e.nfs.GetAttr(fh); err != nil {
				got, rerr := e.nfs.readFile("/e/f.txt")
				t.Errorf("handle of d/f.txt after renaming d to e during a refresh of d: GETATTR %v; "+
					"read /e/f.txt now: %q, %v", err, got, rerr)
			}
			e.flush(10 * time.Second)
			want := newTree()
			want.add("e/f.txt", content)
			want.parentDirs()
			if d := diff(e.cloud.tree(t), want); len(d) > 0 {
				t.Errorf("backend:\n%s", lines(d))
			}
		})
	}
}

// slowList holds the next List of one prefix, once armed, until the
// test releases it, so the test can act while a listing is in flight.
type slowList struct {
	backend.Store
	prefix string

	mu       sync.Mutex
	armed    bool
	started  chan struct{} // closed when the held List begins
	release  chan struct{} // closed by the test to let it go on
	returned chan struct{} // closed when the held List has returned
}

func newSlowList(prefix string) *slowList {
	return &slowList{prefix: prefix, started: make(chan struct{}), release: make(chan struct{}), returned: make(chan struct{})}
}

// slowListRenamer is a slowList over a store with Rename.
type slowListRenamer struct {
	*slowList
	backend.Renamer
}

func (s *slowList) arm() {
	s.mu.Lock()
	s.armed = true
	s.mu.Unlock()
}

func (s *slowList) List(ctx context.Context, o backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	s.mu.Lock()
	held := s.armed && o.Prefix == s.prefix
	if held {
		s.armed = false
	}
	s.mu.Unlock()
	if !held {
		return s.Store.List(ctx, o, fn)
	}
	defer close(s.returned)
	close(s.started)
	select {
	case <-s.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.List(ctx, o, fn)
}

func (s *slowList) waitStarted(t testing.TB) {
	t.Helper()
	select {
	case <-s.started:
	case <-time.After(hangLimit):
		t.Fatalf("no listing of %q began within %v", s.prefix, hangLimit)
	}
}

// finish lets the held List go on and waits until it has returned.
func (s *slowList) finish(t testing.TB) {
	t.Helper()
	close(s.release)
	select {
	case <-s.returned:
	case <-time.After(hangLimit):
		t.Fatalf("the listing of %q did not return within %v", s.prefix, hangLimit)
	}
}
