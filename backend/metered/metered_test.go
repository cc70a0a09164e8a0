package metered_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/backend/storetest"
	"github.com/filegate/filegate/internal/testutil"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) backend.Store { return metered.New(memstore.New()) })
}

func TestKeepsRenamerAndUsage(t *testing.T) {
	storetest.CheckAbilities(t, func(inner backend.Store) backend.Store {
		m := metered.New(inner)
		if metered.Of(m) == nil {
			t.Errorf("Of found no *Store over %T", inner)
		}
		return m
	})
}

func TestCounts(t *testing.T) {
	ctx := context.Background()
	fs := faultstore.New(memstore.New())
	st := metered.New(fs)
	m := metered.Of(st)
	body := strings.Repeat("x", 1000)
	if _, err := st.Put(ctx, "a", strings.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, "a", 100, 500, "")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	if _, err := st.Stat(ctx, "missing"); err == nil {
		t.Fatal("stat of a missing key succeeded")
	}
	fs.Set(faultstore.Stat, faultstore.Fault{Err: errors.New("connection refused")})
	if _, err := st.Stat(ctx, "a"); err == nil {
		t.Fatal("faulted stat succeeded")
	}
	s := m.Stats()
	if s.BytesUp != 1000 || s.BytesDown != 500 {
		t.Errorf("bytes up/down = %d/%d, want 1000/500", s.BytesUp, s.BytesDown)
	}
	if got := s.Ops[metered.OpStat]; got.Calls != 2 || got.Errors != 1 {
		t.Errorf("stat calls/errors = %d/%d, want 2/1 (not found is an answer)", got.Calls, got.Errors)
	}
	if got := s.Ops[metered.OpPut]; got.Calls != 1 || got.Errors != 0 {
		t.Errorf("put = %+v", got)
	}
	if !strings.Contains(s.LastError, "connection refused") || s.LastErrorAt.IsZero() || s.LastSuccess.IsZero() {
		t.Errorf("last error %q at %v, last success %v", s.LastError, s.LastErrorAt, s.LastSuccess)
	}
}

func TestProbe(t *testing.T) {
	ctx := context.Background()
	fs := faultstore.New(memstore.New())
	m := metered.Of(metered.New(fs))
	if r := m.Probe(ctx, time.Second); !r.Reachable || r.Err != "" {
		t.Fatalf("probe of a healthy store: %+v", r)
	}
	fs.Set(faultstore.Stat, faultstore.Fault{Stall: true})
	r := m.Probe(ctx, 50*time.Millisecond)
	if r.Reachable || !strings.Contains(r.Err, "no answer within 50ms") || r.Failures != 1 {
		t.Fatalf("probe of a hung store: %+v", r)
	}
	fs.Set(faultstore.Stat, faultstore.Fault{Err: errors.New("dial tcp: no route to host")})
	if r := m.Probe(ctx, time.Second); r.Reachable || r.Failures != 2 || !strings.Contains(r.Err, "no route") {
		t.Fatalf("second failed probe: %+v", r)
	}
	if got := m.Stats().Probe; got.Reachable || got.Failures != 2 {
		t.Fatalf("Stats().Probe = %+v", got)
	}
	fs.Clear()
	p := metered.StartProber(m, time.Hour, time.Second)
	defer p.Close()
	if !testutil.Poll(5*time.Second, func() bool { return m.Stats().Probe.Reachable }) {
		t.Fatal("the prober never probed")
	}
	if m.Stats().Probe.Failures != 0 {
		t.Error("failures not reset by a good probe")
	}
}

func TestPutSeekCounted(t *testing.T) {
	// A retried Put reads the body again: both passes count as sent.
	ctx := context.Background()
	m := metered.New(rereadStore{memstore.New()})
	body := bytes.Repeat([]byte("y"), 300)
	if _, err := m.Put(ctx, "k", bytes.NewReader(body), 300, nil); err != nil {
		t.Fatal(err)
	}
	if got := metered.Of(m).Stats().BytesUp; got != 600 {
		t.Errorf("BytesUp = %d, want 600", got)
	}
}

// rereadStore reads each Put body once, rewinds, and passes it on.
type rereadStore struct{ backend.Store }

func (s rereadStore) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	io.Copy(io.Discard, r)
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return backend.ObjectInfo{}, err
	}
	return s.Store.Put(ctx, key, r, size, attrs)
}
