package faultstore

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filegate/filegate/backend"
)

var _ backend.Store = (*Store)(nil)

// Op names a Store method.
type Op int

// The methods of backend.Store.
const (
	Stat Op = iota
	Get
	Put
	Delete
	List
	Copy
	numOps
)

var opNames = [numOps]string{"Stat", "Get", "Put", "Delete", "List", "Copy"}

func (o Op) String() string {
	if o < 0 || o >= numOps {
		return fmt.Sprintf("Op(%d)", int(o))
	}
	return opNames[o]
}

// Fault is what happens to calls of one method before (or instead of)
// reaching the wrapped store. The zero Fault passes calls through.
type Fault struct {
	// Delay is waited first; a done ctx cuts it short with ctx's error.
	Delay time.Duration
	// Stall blocks the call until its ctx is done, as a hung server
	// would, and returns ctx's error.
	Stall bool
	// Err, when set, is returned instead of calling the store.
	Err error
	// Times, when positive, limits the fault to that many calls, after
	// which the method passes calls through again: "fail twice, then
	// succeed" for retry tests.
	Times int
}

// Store is a backend.Store that injects faults into another. It hides
// any Renamer or UsageReporter of the wrapped store, so tests see the
// Copy and Delete path.
type Store struct {
	inner backend.Store
	calls [numOps]atomic.Int64

	mu     sync.Mutex
	faults [numOps]Fault
}

// New wraps inner with no faults set.
func New(inner backend.Store) *Store {
	return &Store{inner: inner}
}

// Set makes f happen to calls of op from now on, replacing any fault set.
func (s *Store) Set(op Op, f Fault) {
	s.mu.Lock()
	s.faults[op] = f
	s.mu.Unlock()
}

// Clear removes every fault.
func (s *Store) Clear() {
	s.mu.Lock()
	s.faults = [numOps]Fault{}
	s.mu.Unlock()
}

// Calls returns how many calls of op were made, faulted or not.
func (s *Store) Calls(op Op) int64 { return s.calls[op].Load() }

// inject counts a call of op and applies its fault. A nil error means
// the call goes on to the wrapped store.
func (s *Store) inject(ctx context.Context, op Op) error {
	s.calls[op].Add(1)
	s.mu.Lock()
	f := s.faults[op]
	if f.Times > 0 {
		if s.faults[op].Times--; s.faults[op].Times == 0 {
			s.faults[op] = Fault{}
		}
	}
	s.mu.Unlock()

	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("faultstore: %v: %w", op, ctx.Err())
		}
	}
	if f.Stall {
		<-ctx.Done()
		return fmt.Errorf("faultstore: %v stalled: %w", op, ctx.Err())
	}
	if f.Err != nil {
		return fmt.Errorf("faultstore: %v: %w", op, f.Err)
	}
	return nil
}

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	if err := s.inject(ctx, Stat); err != nil {
		return backend.ObjectInfo{}, err
	}
	return s.inner.Stat(ctx, key)
}

// Get implements backend.Store.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	if err := s.inject(ctx, Get); err != nil {
		return nil, err
	}
	return s.inner.Get(ctx, key, off, length, etag)
}

// Put implements backend.Store.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := s.inject(ctx, Put); err != nil {
		return backend.ObjectInfo{}, err
	}
	return s.inner.Put(ctx, key, r, size, attrs)
}

// Delete implements backend.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.inject(ctx, Delete); err != nil {
		return err
	}
	return s.inner.Delete(ctx, key)
}

// List implements backend.Store. The fault applies once, before the
// listing starts.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	if err := s.inject(ctx, List); err != nil {
		return err
	}
	return s.inner.List(ctx, opts, fn)
}

// Copy implements backend.Store.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := s.inject(ctx, Copy); err != nil {
		return backend.ObjectInfo{}, err
	}
	return s.inner.Copy(ctx, src, dst, attrs)
}
