package stack_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/stack"
	"github.com/filegate/filegate/backend/storetest"
	"github.com/filegate/filegate/internal/testutil"
)

// fastRetry retries at once, so tests do not wait.
func fastRetry() *retry.Config {
	rc := retry.DefaultConfig()
	rc.MinDelay, rc.MaxDelay = time.Microsecond, time.Microsecond
	return &rc
}

func mustNew(t *testing.T, cfg stack.Config) stack.Stack {
	t.Helper()
	st, err := stack.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestConformance: the whole stack is a Store like the one it wraps.
func TestConformance(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) backend.Store {
			return mustNew(t, stack.Config{Store: memstore.New(), Retry: fastRetry(), Limiter: limit.NewLimiter(nil)}).Store
		})
	})
	t.Run("posix", func(t *testing.T) {
		storetest.RunWith(t, func(t *testing.T) backend.Store {
			return mustNew(t, stack.Config{Store: testutil.PosixStore(t), Limiter: limit.NewLimiter(nil)}).Store
		}, storetest.Options{RealDirectories: true, MTimeGranularity: time.Nanosecond})
	})
}

// unwrap returns the store below s, a layer of the stack.
func unwrap(s backend.Store) (backend.Store, string) {
	switch l := backend.Base(s).(type) {
	case *retry.Store:
		return l.Unwrap(), "retry"
	case *limit.Store:
		return l.Unwrap(), "limit"
	case *metered.Store:
		return l.Unwrap(), "metered"
	}
	return nil, fmt.Sprintf("%T", s)
}

// TestOrder checks the layers from the top down.
func TestOrder(t *testing.T) {
	base := memstore.New()
	for _, tc := range []struct {
		name string
		cfg  stack.Config
		want string
	}{
		{"all", stack.Config{Store: base, Retry: fastRetry(), Limiter: limit.NewLimiter(nil)}, "retry limit metered *memstore.Store"},
		{"local", stack.Config{Store: base, Limiter: limit.NewLimiter(nil)}, "limit metered *memstore.Store"},
		{"bare", stack.Config{Store: base}, "metered *memstore.Store"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := mustNew(t, tc.cfg)
			var layers []string
			for s := st.Store; s != nil; {
				var name string
				s, name = unwrap(s)
				layers = append(layers, name)
			}
			if got := strings.Join(layers, " "); got != tc.want {
				t.Errorf("layers %q, want %q", got, tc.want)
			}
			if st.Metered == nil {
				t.Error("no Metered")
			}
			if (st.Limits != nil) != (tc.cfg.Limiter != nil) {
				t.Errorf("Limits = %v with Limiter %v", st.Limits, tc.cfg.Limiter)
			}
		})
	}
}

// TestMeterSeesRetries: a request retried below the caller is counted
// once per attempt, and the caller sees the success.
func TestMeterSeesRetries(t *testing.T) {
	fault := faultstore.New(memstore.New())
	st := mustNew(t, stack.Config{Store: fault, Retry: fastRetry(), Limiter: limit.NewLimiter(nil)})
	if _, err := fault.Put(t.Context(), "k", strings.NewReader("x"), 1, nil); err != nil {
		t.Fatal(err)
	}
	fault.Set(faultstore.Stat, faultstore.Fault{Err: syscall.ECONNRESET, Times: 2})
	if _, err := st.Store.Stat(t.Context(), "k"); err != nil {
		t.Fatalf("Stat = %v, want success after the retries", err)
	}
	op := st.Metered.Stats().Ops[metered.OpStat]
	if op.Calls != 3 || op.Errors != 2 {
		t.Errorf("metered Stat: %d calls, %d errors; want 3 and 2", op.Calls, op.Errors)
	}
}

// TestKeepsRenamerAndUsage: a POSIX store keeps its atomic rename and
// its capacity through the stack.
func TestKeepsRenamerAndUsage(t *testing.T) {
	storetest.CheckAbilities(t, func(inner backend.Store) backend.Store {
		return mustNew(t, stack.Config{Store: inner, Retry: fastRetry(), Limiter: limit.NewLimiter(nil)}).Store
	})
}

// TestSharedLimiter: stacks given one Limiter share its schedule.
func TestSharedLimiter(t *testing.T) {
	lim := limit.NewLimiter(nil)
	a := mustNew(t, stack.Config{Store: memstore.New(), Limiter: lim})
	b := mustNew(t, stack.Config{Store: memstore.New(), Limiter: lim})
	sched := limit.Schedule{{Text: "always", Upload: 1 << 20, Days: [7]bool{true, true, true, true, true, true, true}}}
	a.Limits.SetSchedule(sched)
	if got := b.Limits.Current(); got.Upload != 1<<20 {
		t.Errorf("the other stack's upload rate = %d, want %d", got.Upload, 1<<20)
	}
}

func TestValidate(t *testing.T) {
	if _, err := stack.New(stack.Config{}); err == nil {
		t.Error("New with no Store succeeded")
	}
	bad := retry.DefaultConfig()
	bad.MaxAttempts = 0
	if _, err := stack.New(stack.Config{Store: memstore.New(), Retry: &bad}); err == nil {
		t.Error("New with a bad retry config succeeded")
	}
}
