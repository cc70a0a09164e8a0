package faultstore_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/storetest"
)

// With no faults set the wrapper is a conforming store.
func TestPassThrough(t *testing.T) {
	storetest.Run(t, func(*testing.T) backend.Store { return faultstore.New(memstore.New()) })
}

func TestFaults(t *testing.T) {
	s := faultstore.New(memstore.New())
	ctx := t.Context()
	put := func() error {
		_, err := s.Put(ctx, "k", strings.NewReader("v"), 1, nil)
		return err
	}

	s.Set(faultstore.Put, faultstore.Fault{Err: syscall.ENOSPC, Times: 2})
	for i := range 2 {
		if err := put(); !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("Put %d = %v, want ENOSPC", i, err)
		}
	}
	if err := put(); err != nil {
		t.Fatalf("Put after the fault ran out: %v", err)
	}
	if n := s.Calls(faultstore.Put); n != 3 {
		t.Errorf("Calls(Put) = %d, want 3", n)
	}

	s.Set(faultstore.Stat, faultstore.Fault{Delay: 20 * time.Millisecond})
	start := time.Now()
	if _, err := s.Stat(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("Stat took %v, want the 20ms delay", d)
	}

	s.Set(faultstore.Get, faultstore.Fault{Stall: true})
	sctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := s.Get(sctx, "k", 0, -1, ""); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("stalled Get = %v, want DeadlineExceeded", err)
	}

	s.Set(faultstore.List, faultstore.Fault{Delay: time.Hour})
	if err := s.List(sctx, backend.ListOptions{}, func(backend.ObjectInfo) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("delayed List with a done ctx = %v", err)
	}

	s.Clear()
	if _, err := s.Get(ctx, "k", 0, -1, ""); err != nil {
		t.Errorf("Get after Clear: %v", err)
	}
	if got := faultstore.Copy.String(); got != "Copy" {
		t.Errorf("Copy.String() = %q", got)
	}
}
