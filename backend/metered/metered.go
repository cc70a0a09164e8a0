package metered

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/filegate/filegate/backend"
)

// Op names the observed operations, the index of OpStats.
type Op int

// The observed operations.
const (
	OpStat Op = iota
	OpGet
	OpPut
	OpDelete
	OpList
	OpCopy
	OpRename
	OpUsage
	numOps
)

var opNames = [numOps]string{"stat", "get", "put", "delete", "list", "copy", "rename", "usage"}

// String returns the operation's lowercase name.
func (o Op) String() string {
	if o < 0 || o >= numOps {
		return "unknown"
	}
	return opNames[o]
}

// Ops lists every operation, in order.
func Ops() []Op {
	out := make([]Op, numOps)
	for i := range out {
		out[i] = Op(i)
	}
	return out
}

type opCounters struct {
	calls, errors, nanos atomic.Int64
}

// Store is a backend.Store that counts what passes through it. New
// returns it with Rename and Usage when the wrapped store has them.
type Store struct {
	inner     backend.Store
	ops       [numOps]opCounters
	bytesUp   atomic.Int64
	bytesDown atomic.Int64

	mu          sync.Mutex
	lastErr     error
	lastErrAt   time.Time
	lastSuccess time.Time
	probe       ProbeResult
}

var _ backend.Store = (*Store)(nil)

// New wraps inner. The result implements backend.Renamer and
// backend.UsageReporter exactly when inner does. Use Of to reach the
// *Store behind it.
func New(inner backend.Store) backend.Store {
	s := &Store{inner: inner}
	var ren backend.Renamer
	var use backend.UsageReporter
	if r, ok := inner.(backend.Renamer); ok {
		ren = renamer{s, r}
	}
	if u, ok := inner.(backend.UsageReporter); ok {
		use = usager{s, u}
	}
	return backend.Extend(s, ren, use)
}

// Of returns the *Store that New returned as st, or nil.
func Of(st backend.Store) *Store {
	s, _ := backend.Base(st).(*Store)
	return s
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() backend.Store { return s.inner }

type renamer struct {
	s *Store
	r backend.Renamer
}

// Rename implements backend.Renamer.
func (r renamer) Rename(ctx context.Context, src, dst string) error {
	done := r.s.start(OpRename)
	err := r.r.Rename(ctx, src, dst)
	done(err)
	return err
}

type usager struct {
	s *Store
	u backend.UsageReporter
}

// Usage implements backend.UsageReporter.
func (u usager) Usage(ctx context.Context) (backend.Usage, error) {
	done := u.s.start(OpUsage)
	out, err := u.u.Usage(ctx)
	done(err)
	return out, err
}

// start counts a call of op and returns the function that records its
// outcome. A missing key is an answer, not an error: it counts as a
// success (the store was reached).
func (s *Store) start(op Op) func(error) {
	t0 := time.Now()
	return func(err error) {
		c := &s.ops[op]
		c.calls.Add(1)
		c.nanos.Add(int64(time.Since(t0)))
		s.record(err)
	}
}

func (s *Store) record(err error) {
	now := time.Now()
	s.mu.Lock()
	if isFailure(err) {
		s.lastErr, s.lastErrAt = err, now
	} else if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, backend.ErrChanged) {
		s.lastSuccess = now
	}
	s.mu.Unlock()
}

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	done := s.startErr(OpStat)
	oi, err := s.inner.Stat(ctx, key)
	done(err)
	return oi, err
}

// Get implements backend.Store; the bytes read from the body count as
// received.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	done := s.startErr(OpGet)
	rc, err := s.inner.Get(ctx, key, off, length, etag)
	done(err)
	if err != nil {
		return nil, err
	}
	return &countingReadCloser{rc: rc, n: &s.bytesDown}, nil
}

// Put implements backend.Store; every byte the store reads from r counts
// as sent, again on a retry.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	done := s.startErr(OpPut)
	oi, err := s.inner.Put(ctx, key, &countingReadSeeker{r: r, n: &s.bytesUp}, size, attrs)
	done(err)
	return oi, err
}

// Delete implements backend.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	done := s.startErr(OpDelete)
	err := s.inner.Delete(ctx, key)
	done(err)
	return err
}

// List implements backend.Store. Its latency includes the caller's fn.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	done := s.startErr(OpList)
	err := s.inner.List(ctx, opts, fn)
	done(err)
	return err
}

// Copy implements backend.Store.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	done := s.startErr(OpCopy)
	oi, err := s.inner.Copy(ctx, src, dst, attrs)
	done(err)
	return oi, err
}

// startErr is start, also counting the errors of op.
func (s *Store) startErr(op Op) func(error) {
	done := s.start(op)
	return func(err error) {
		if isFailure(err) {
			s.ops[op].errors.Add(1)
		}
		done(err)
	}
}

// isFailure reports whether err says the store failed, rather than
// answered (a missing key, a refused key, a version changed, a stop
// asked by the caller).
func isFailure(err error) bool {
	return err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, backend.ErrInvalidKey) &&
		!errors.Is(err, backend.ErrNotEmpty) && !errors.Is(err, backend.ErrChanged) && !errors.Is(err, context.Canceled)
}

// OpStats are the counters of one operation.
type OpStats struct {
	Calls, Errors int64
	// Total is the time spent in the calls, summed.
	Total time.Duration
}

// Stats is a snapshot of a Store's counters.
type Stats struct {
	Ops                [numOps]OpStats
	BytesUp, BytesDown int64
	LastError          string
	LastErrorAt        time.Time
	LastSuccess        time.Time
	Probe              ProbeResult
}

// Stats returns the current counters.
func (s *Store) Stats() Stats {
	var st Stats
	for i := range st.Ops {
		c := &s.ops[i]
		st.Ops[i] = OpStats{Calls: c.calls.Load(), Errors: c.errors.Load(), Total: time.Duration(c.nanos.Load())}
	}
	st.BytesUp, st.BytesDown = s.bytesUp.Load(), s.bytesDown.Load()
	s.mu.Lock()
	if s.lastErr != nil {
		st.LastError = s.lastErr.Error()
	}
	st.LastErrorAt, st.LastSuccess, st.Probe = s.lastErrAt, s.lastSuccess, s.probe
	s.mu.Unlock()
	return st
}

type countingReadCloser struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingReadCloser) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReadCloser) Close() error { return c.rc.Close() }

type countingReadSeeker struct {
	r io.ReadSeeker
	n *atomic.Int64
}

func (c *countingReadSeeker) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReadSeeker) Seek(off int64, whence int) (int64, error) {
	return c.r.Seek(off, whence)
}
