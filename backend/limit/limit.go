package limit

import (
	"context"
	"io"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/filegate/filegate/backend"
)

// Dir is the direction of a transfer.
type Dir int

// The two directions.
const (
	Up   Dir = iota // Put bodies, to the backend
	Down            // Get bodies, from the backend
)

// Limiter holds the schedule and the token buckets of both directions.
// Every Store wrapped by one Limiter shares its rates, so several exports
// of one gateway together stay within the office link's limit.
type Limiter struct {
	now func() time.Time
	// wait takes n tokens of dir's limiter; tests replace it.
	wait func(ctx context.Context, d Dir, n int) error

	mu      sync.Mutex
	sched   Schedule
	current Rates
	checked time.Time
	lim     [2]*rate.Limiter
}

// NewLimiter returns a Limiter with sched (nil: no limits until
// SetSchedule).
func NewLimiter(sched Schedule) *Limiter {
	l := &Limiter{now: time.Now, sched: sched,
		lim: [2]*rate.Limiter{rate.NewLimiter(rate.Inf, 0), rate.NewLimiter(rate.Inf, 0)}}
	l.wait = l.waitN
	l.refreshLocked(l.now(), true)
	return l
}

// Store is a backend.Store whose Put and Get bodies pass through its
// Limiter's buckets. Other calls pass straight through. Wrap returns it
// with Rename and Usage when the wrapped store has them.
type Store struct {
	inner backend.Store
	*Limiter
}

var _ backend.Store = (*Store)(nil)

// New wraps inner with a Limiter of its own following sched (nil: no
// limits until SetSchedule).
func New(inner backend.Store, sched Schedule) backend.Store {
	return NewLimiter(sched).Wrap(inner)
}

// Wrap returns inner limited by l, sharing l's rates with every other
// store l wraps.
func (l *Limiter) Wrap(inner backend.Store) backend.Store {
	s := &Store{inner: inner, Limiter: l}
	// Renames and usage queries move no file bytes: they pass unlimited.
	ren, _ := inner.(backend.Renamer)
	use, _ := inner.(backend.UsageReporter)
	return backend.Extend(s, ren, use)
}

// Of returns the *Store that New or Wrap returned as st, or nil.
func Of(st backend.Store) *Store {
	s, _ := backend.Base(st).(*Store)
	return s
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() backend.Store { return s.inner }

// SetSchedule replaces the schedule (a config reload); transfers in
// progress take the new rates from their next read.
func (s *Limiter) SetSchedule(sched Schedule) {
	s.mu.Lock()
	s.sched = sched
	s.refreshLocked(s.now(), true)
	s.mu.Unlock()
}

// Schedule returns the schedule.
func (s *Limiter) Schedule() Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sched
}

// Current returns the rates in force now.
func (s *Limiter) Current() Rates {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked(s.now(), false)
	return s.current
}

// burstFor is the bucket size for a rate: a quarter second of it, at
// least 16 KiB (so reads stay efficient at low rates) and at most 1 MiB.
func burstFor(bps int64) int {
	return int(min(max(bps/4, 16<<10), 1<<20))
}

// refreshLocked sets the limiters to the rates at now, looked at once a
// second at most unless forced.
func (s *Limiter) refreshLocked(now time.Time, force bool) {
	if !force && now.Sub(s.checked) < time.Second && now.Sub(s.checked) >= 0 {
		return
	}
	s.checked = now
	r := s.sched.At(now.Local())
	if !force && r == s.current {
		return
	}
	s.current = r
	for d, bps := range [2]int64{r.Upload, r.Download} {
		if bps <= 0 {
			s.lim[d].SetLimitAt(now, rate.Inf)
			continue
		}
		s.lim[d].SetLimitAt(now, rate.Limit(bps))
		s.lim[d].SetBurstAt(now, burstFor(bps))
	}
}

// limiter returns dir's limiter and the most bytes one read may pass,
// 0 when there is no limit.
func (s *Limiter) limiter(d Dir) (*rate.Limiter, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refreshLocked(s.now(), false)
	l := s.lim[d]
	if l.Limit() == rate.Inf {
		return l, 0
	}
	return l, l.Burst()
}

// waitN takes n tokens of d's limiter, in pieces no bigger than its
// burst (which may change meanwhile).
func (s *Limiter) waitN(ctx context.Context, d Dir, n int) error {
	for n > 0 {
		l, chunk := s.limiter(d)
		if chunk == 0 {
			return nil
		}
		k := min(n, chunk)
		if err := l.WaitN(ctx, k); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// throttle is a body reader that passes at most a burst per Read and
// then waits for that many tokens.
type throttle struct {
	s   *Store
	ctx context.Context
	d   Dir
	r   io.Reader
}

func (t *throttle) Read(p []byte) (int, error) {
	if _, chunk := t.s.limiter(t.d); chunk > 0 && len(p) > chunk {
		p = p[:chunk]
	}
	n, err := t.r.Read(p)
	if n > 0 {
		if werr := t.s.wait(t.ctx, t.d, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

type throttleSeeker struct {
	throttle
	seeker io.Seeker
}

// Seek passes through, so the store can rewind the body for a retry.
func (t *throttleSeeker) Seek(off int64, whence int) (int64, error) {
	return t.seeker.Seek(off, whence)
}

type throttleCloser struct {
	throttle
	closer io.Closer
}

func (t *throttleCloser) Close() error { return t.closer.Close() }

// Put implements backend.Store; the body is read at the upload rate.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	return s.inner.Put(ctx, key, &throttleSeeker{throttle{s, ctx, Up, r}, r}, size, attrs)
}

// Get implements backend.Store; the body is read at the download rate,
// with ctx still bounding the waits.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	rc, err := s.inner.Get(ctx, key, off, length, etag)
	if err != nil {
		return nil, err
	}
	return &throttleCloser{throttle{s, ctx, Down, rc}, rc}, nil
}

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	return s.inner.Stat(ctx, key)
}

// Delete implements backend.Store.
func (s *Store) Delete(ctx context.Context, key string) error { return s.inner.Delete(ctx, key) }

// List implements backend.Store.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	return s.inner.List(ctx, opts, fn)
}

// Copy implements backend.Store: a copy inside the store moves no bytes
// over the gateway's link.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	return s.inner.Copy(ctx, src, dst, attrs)
}
