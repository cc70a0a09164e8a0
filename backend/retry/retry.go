package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"syscall"
	"time"

	"github.com/filegate/filegate/backend"
)

// Config configures a Store.
type Config struct {
	// MaxAttempts is the most calls made for one operation, the first
	// included.
	MaxAttempts int
	// MinDelay is the wait after the first failure; it doubles after each
	// further one up to MaxDelay. Each wait is drawn between half and all
	// of that, so clients that failed together do not retry together.
	MinDelay, MaxDelay time.Duration
	// Logger gets a Warn line for every retry.
	Logger *slog.Logger
}

// DefaultConfig returns 5 attempts waiting about 0.2, 0.4, 0.8 and 1.6 s.
func DefaultConfig() Config {
	return Config{
		MaxAttempts: 5,
		MinDelay:    200 * time.Millisecond,
		MaxDelay:    5 * time.Second,
		Logger:      slog.New(slog.DiscardHandler),
	}
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	switch {
	case cfg.MaxAttempts < 1:
		return errors.New("retry: MaxAttempts must be at least 1")
	case cfg.MinDelay <= 0 || cfg.MaxDelay < cfg.MinDelay:
		return errors.New("retry: want 0 < MinDelay <= MaxDelay")
	case cfg.Logger == nil:
		return errors.New("retry: Logger is nil")
	}
	return nil
}

// Store is a backend.Store retrying another. New returns it with Rename
// and Usage when the wrapped store has them.
type Store struct {
	inner backend.Store
	cfg   Config
}

var _ backend.Store = (*Store)(nil)

// New wraps inner. The result implements backend.Renamer and
// backend.UsageReporter exactly when inner does, so callers that test for
// them see the wrapped store's abilities.
func New(inner backend.Store, cfg Config) (backend.Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Store{inner: inner, cfg: cfg}
	var ren backend.Renamer
	var use backend.UsageReporter
	if r, ok := inner.(backend.Renamer); ok {
		ren = renamer{s, r}
	}
	if u, ok := inner.(backend.UsageReporter); ok {
		use = usager{s, u}
	}
	return backend.Extend(s, ren, use), nil
}

// Unwrap returns the wrapped store.
func (s *Store) Unwrap() backend.Store { return s.inner }

type renamer struct {
	s *Store
	r backend.Renamer
}

// Rename implements backend.Renamer.
func (r renamer) Rename(ctx context.Context, src, dst string) error {
	return r.s.do(ctx, "rename", src, func() error { return r.r.Rename(ctx, src, dst) })
}

type usager struct {
	s *Store
	u backend.UsageReporter
}

// Usage implements backend.UsageReporter.
func (u usager) Usage(ctx context.Context) (backend.Usage, error) {
	var out backend.Usage
	err := u.s.do(ctx, "usage", "", func() (err error) { out, err = u.u.Usage(ctx); return err })
	return out, err
}

// Transient reports whether err may pass if the call is made again: a
// network failure, an HTTP 5xx, 429 or 408 answer, or an S3 throttling or
// timeout code. It looks only at interfaces (ErrorCode, HTTPStatusCode,
// net.Error), so no SDK is imported here.
func Transient(err error) bool {
	switch {
	case err == nil,
		errors.Is(err, context.Canceled),
		errors.Is(err, fs.ErrNotExist),
		errors.Is(err, backend.ErrInvalidKey),
		errors.Is(err, backend.ErrNotEmpty),
		errors.Is(err, backend.ErrChanged):
		return false
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		if retryableCodes[coded.ErrorCode()] {
			return true
		}
	}
	var status interface{ HTTPStatusCode() int }
	if errors.As(err, &status) {
		// An HTTP answer came: its status decides, whatever else the
		// chain holds (a 403 is not cured by asking again).
		switch c := status.HTTPStatusCode(); {
		case c >= 500, c == 429, c == 408:
			return true
		case c > 0:
			return false
		}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && !isNetwork(err) {
		// A body shorter than its size: the caller's, not the network's.
		return false
	}
	return isNetwork(err) || errors.Is(err, context.DeadlineExceeded)
}

// isNetwork reports a failure to connect, or a connection that broke.
func isNetwork(err error) bool {
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	for _, e := range []error{syscall.ECONNRESET, syscall.ECONNREFUSED, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, syscall.ENETDOWN} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// retryableCodes are S3 (and AWS) error codes that ask to be retried:
// the SDK's own retryable and throttling lists.
var retryableCodes = map[string]bool{
	"RequestTimeout": true, "RequestTimeoutException": true, "InternalError": true,
	"ServiceUnavailable": true, "SlowDown": true, "Throttling": true, "ThrottlingException": true,
	"ThrottledException": true, "RequestThrottledException": true, "TooManyRequestsException": true,
	"RequestThrottled": true, "RequestLimitExceeded": true, "BandwidthLimitExceeded": true,
	"LimitExceededException": true, "PriorRequestNotComplete": true, "TransactionInProgressException": true,
	"ProvisionedThroughputExceededException": true, "EC2ThrottledException": true,
}

// do runs call until it succeeds, fails for good, runs out of attempts
// or ctx ends.
func (s *Store) do(ctx context.Context, op, key string, call func() error) error {
	delay := s.cfg.MinDelay
	for attempt := 1; ; attempt++ {
		err := call()
		var pe permanentError
		if errors.As(err, &pe) {
			return pe.error
		}
		if err == nil || attempt >= s.cfg.MaxAttempts || !Transient(err) || ctx.Err() != nil {
			if err != nil && attempt > 1 {
				return fmt.Errorf("retry: %s after %d attempts: %w", op, attempt, err)
			}
			return err
		}
		wait := delay/2 + rand.N(delay/2+1)
		s.cfg.Logger.Warn("backend call failed; retrying", "op", op, "key", key, "dur", wait, "attempt", attempt, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("retry: %s: %w (after: %w)", op, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(delay*2, s.cfg.MaxDelay)
	}
}

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	var out backend.ObjectInfo
	err := s.do(ctx, "stat", key, func() (err error) { out, err = s.inner.Stat(ctx, key); return err })
	return out, err
}

// Get implements backend.Store. It retries opening the body; an error
// while reading it goes to the caller.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	var out io.ReadCloser
	err := s.do(ctx, "get", key, func() (err error) { out, err = s.inner.Get(ctx, key, off, length, etag); return err })
	return out, err
}

// Put implements backend.Store; the store rewinds r for each attempt, as
// its contract says.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	var out backend.ObjectInfo
	err := s.do(ctx, "put", key, func() (err error) { out, err = s.inner.Put(ctx, key, r, size, attrs); return err })
	return out, err
}

// Delete implements backend.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	return s.do(ctx, "delete", key, func() error { return s.inner.Delete(ctx, key) })
}

// Copy implements backend.Store.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	var out backend.ObjectInfo
	err := s.do(ctx, "copy", src, func() (err error) { out, err = s.inner.Copy(ctx, src, dst, attrs); return err })
	return out, err
}

// List implements backend.Store. A listing that fails midway resumes
// after the last item fn received, so no item is seen twice; an error
// from fn itself is returned, never retried.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	return s.do(ctx, "list", opts.Prefix, func() error {
		fromFn := false
		err := s.inner.List(ctx, opts, func(oi backend.ObjectInfo) error {
			if err := fn(oi); err != nil {
				fromFn = true
				return err
			}
			opts.StartAfter = max(opts.StartAfter, oi.Key)
			return nil
		})
		if err != nil && fromFn {
			return permanentError{err}
		}
		return err
	})
}

// permanentError carries an error that must not be retried through do,
// unchanged for errors.Is and errors.As.
type permanentError struct{ error }

func (p permanentError) Unwrap() error { return p.error }
