package metered

import (
	"context"
	"errors"
	"io/fs"
	"sync"
	"time"
)

// ProbeKey is the key a Prober stats. It need not exist: a "not found"
// answer proves the store is reachable just as well.
const ProbeKey = ".filegate-probe"

// ProbeResult is the outcome of the last probe.
type ProbeResult struct {
	// At is when the last probe ended; zero before the first.
	At time.Time
	// Reachable is true when the last probe got an answer in time.
	Reachable bool
	// Latency is how long the last probe took.
	Latency time.Duration
	// Err is the last probe's error, "" when it was reachable.
	Err string
	// Failures counts the probes failed in a row.
	Failures int
}

// Prober checks a store every Interval with a Stat of ProbeKey, bounded
// by Timeout, and records the result in the Store's Stats.
type Prober struct {
	s        *Store
	interval time.Duration
	timeout  time.Duration
	stop     context.CancelFunc
	wg       sync.WaitGroup
}

// StartProber probes s at once and then every interval until Close.
func StartProber(s *Store, interval, timeout time.Duration) *Prober {
	ctx, stop := context.WithCancel(context.Background())
	p := &Prober{s: s, interval: interval, timeout: timeout, stop: stop}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			p.Probe(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// Close stops the prober and waits for it.
func (p *Prober) Close() {
	p.stop()
	p.wg.Wait()
}

// Probe runs one probe now and returns its result.
func (p *Prober) Probe(ctx context.Context) ProbeResult {
	return p.s.Probe(ctx, p.timeout)
}

// Probe stats ProbeKey through s, bounded by timeout, records the
// result and returns it. A probe cut short by ctx itself is not recorded.
func (s *Store) Probe(ctx context.Context, timeout time.Duration) ProbeResult {
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	_, err := s.Stat(pctx, ProbeKey)
	r := ProbeResult{At: time.Now(), Latency: time.Since(t0)}
	if ctx.Err() != nil {
		return r
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		r.Reachable = true
	} else {
		if errors.Is(err, context.DeadlineExceeded) {
			r.Err = "no answer within " + timeout.String()
		} else {
			r.Err = err.Error()
		}
	}
	s.mu.Lock()
	if !r.Reachable {
		r.Failures = s.probe.Failures + 1
	}
	s.probe = r
	s.mu.Unlock()
	return r
}
