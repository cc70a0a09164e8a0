package retry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/storetest"
)

// apiError looks like a smithy.APIError with an HTTP response, as the
// AWS SDK returns, without importing it.
type apiError struct {
	code   string
	status int
}

func (e apiError) Error() string       { return fmt.Sprintf("api error %s (%d)", e.code, e.status) }
func (e apiError) ErrorCode() string   { return e.code }
func (e apiError) HTTPStatusCode() int { return e.status }

type statusOnly int

func (s statusOnly) Error() string       { return fmt.Sprintf("status %d", int(s)) }
func (s statusOnly) HTTPStatusCode() int { return int(s) }

func TestTransient(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not exist", fmt.Errorf("x: %w", fs.ErrNotExist), false},
		{"invalid key", fmt.Errorf("x: %w", backend.ErrInvalidKey), false},
		{"not empty", backend.ErrNotEmpty, false},
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), true},
		{"short body", fmt.Errorf("put: %w", errorsUnexpectedEOF()), false},
		{"dial refused", fmt.Errorf("send: %w", dialErr), true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"503 SlowDown", apiError{"SlowDown", 503}, true},
		{"500 InternalError", apiError{"InternalError", 500}, true},
		{"400 RequestTimeout", apiError{"RequestTimeout", 400}, true},
		{"429", statusOnly(429), true},
		{"502", statusOnly(502), true},
		{"403 AccessDenied", apiError{"AccessDenied", 403}, false},
		{"403 InvalidAccessKeyId", apiError{"InvalidAccessKeyId", 403}, false},
		{"403 SignatureDoesNotMatch", apiError{"SignatureDoesNotMatch", 403}, false},
		{"404 NoSuchBucket", apiError{"NoSuchBucket", 404}, false},
		{"400 InvalidArgument", apiError{"InvalidArgument", 400}, false},
		{"412", statusOnly(412), false},
		{"plain", errors.New("something"), false},
	} {
		if got := retry.Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func errorsUnexpectedEOF() error { return fmt.Errorf("body: %w", io.ErrUnexpectedEOF) }

func fastConfig() retry.Config {
	cfg := retry.DefaultConfig()
	cfg.MinDelay, cfg.MaxDelay = time.Millisecond, 4*time.Millisecond
	return cfg
}

func TestRetriesTransient(t *testing.T) {
	fault := faultstore.New(memstore.New())
	s, err := retry.New(fault, fastConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	fault.Set(faultstore.Put, faultstore.Fault{Err: apiError{"SlowDown", 503}, Times: 2})
	if _, err := s.Put(ctx, "k", strings.NewReader("v"), 1, nil); err != nil {
		t.Fatalf("Put after two 503s: %v", err)
	}
	if n := fault.Calls(faultstore.Put); n != 3 {
		t.Errorf("Put calls = %d, want 3", n)
	}

	// Permanent errors are not retried.
	fault.Set(faultstore.Get, faultstore.Fault{Err: apiError{"AccessDenied", 403}})
	if _, err := s.Get(ctx, "k", 0, -1, ""); err == nil {
		t.Fatal("Get succeeded")
	}
	if n := fault.Calls(faultstore.Get); n != 1 {
		t.Errorf("Get calls after a 403 = %d, want 1", n)
	}
	fault.Clear()
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(missing) = %v", err)
	}
	if n := fault.Calls(faultstore.Stat); n != 1 {
		t.Errorf("Stat calls for a missing key = %d, want 1", n)
	}

	// Attempts are bounded.
	fault.Set(faultstore.Delete, faultstore.Fault{Err: statusOnly(500)})
	if err := s.Delete(ctx, "k"); err == nil || !strings.Contains(err.Error(), "after 5 attempts") {
		t.Errorf("Delete under a lasting 500 = %v", err)
	}
	if n := fault.Calls(faultstore.Delete); n != 5 {
		t.Errorf("Delete calls = %d, want 5", n)
	}
}

func TestRetryStopsWithContext(t *testing.T) {
	fault := faultstore.New(memstore.New())
	cfg := retry.DefaultConfig()
	cfg.MinDelay, cfg.MaxDelay = time.Hour, time.Hour
	s, _ := retry.New(fault, cfg)
	fault.Set(faultstore.Stat, faultstore.Fault{Err: statusOnly(503)})
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Stat(ctx, "k")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Stat = %v after %v", err, time.Since(start))
	}
}

// flakyList fails its first listing after two items with a transient
// error.
type flakyList struct {
	backend.Store
	failed bool
}

func (f *flakyList) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	n := 0
	return f.Store.List(ctx, opts, func(oi backend.ObjectInfo) error {
		if n++; n == 3 && !f.failed {
			f.failed = true
			return statusOnly(503)
		}
		return fn(oi)
	})
}

func TestListResumes(t *testing.T) {
	m := memstore.New()
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		m.Put(t.Context(), k, strings.NewReader(k), 1, nil)
	}
	s, _ := retry.New(&flakyList{Store: m}, fastConfig())
	var got []string
	err := s.List(t.Context(), backend.ListOptions{}, func(oi backend.ObjectInfo) error {
		got = append(got, oi.Key)
		return nil
	})
	if err != nil || strings.Join(got, "") != "abcde" {
		t.Fatalf("List = %q, %v; want each key once", got, err)
	}
	// An error of fn is the caller's: returned at once.
	boom := statusOnly(503)
	calls := 0
	err = s.List(t.Context(), backend.ListOptions{}, func(backend.ObjectInfo) error { calls++; return boom })
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("List with failing fn = %v after %d calls", err, calls)
	}
}

// TestKeepsAbilities checks the wrapper shows Renamer and UsageReporter
// exactly when the wrapped store has them.
func TestKeepsAbilities(t *testing.T) {
	storetest.CheckAbilities(t, func(inner backend.Store) backend.Store {
		s, err := retry.New(inner, fastConfig())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) backend.Store {
		s, err := retry.New(memstore.New(), fastConfig())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
