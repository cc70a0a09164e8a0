package admin

import "time"

// Throughput is the change of the transfer counters over the last
// minute, sampled every few seconds, so status needs no counter per
// transfer.

// sample holds each export's transfer counters at one time.
type sample struct {
	at       time.Time
	up, down []int64
}

// sampleEvery is how often the transfer counters are sampled for the
// throughput; sampleWindow is the span averaged over.
const (
	sampleEvery  = 5 * time.Second
	sampleWindow = time.Minute
)

func (x *export) transfer() (up, down int64) {
	if x.transferred != nil {
		return x.transferred()
	}
	st := x.c.Stats()
	return st.UploadBytes, st.RemoteReadBytes
}

// transferredNow samples every export's transfer counters.
func (a *Server) transferredNow() sample {
	s := sample{at: time.Now(), up: make([]int64, len(a.xs)), down: make([]int64, len(a.xs))}
	for i, x := range a.xs {
		s.up[i], s.down[i] = x.transfer()
	}
	return s
}

func (a *Server) sample() {
	s := a.transferredNow()
	a.mu.Lock()
	a.samples = append(a.samples, s)
	for len(a.samples) > 2 && s.at.Sub(a.samples[1].at) >= sampleWindow {
		a.samples = a.samples[1:]
	}
	a.mu.Unlock()
}

func (a *Server) sampler() {
	defer a.wg.Done()
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		select {
		case <-a.life.Done():
			return
		case <-t.C:
			a.sample()
		}
	}
}

// rates returns each export's bytes per second up and down since the
// oldest sample of the last minute.
func (a *Server) rates() (up, down []float64) {
	cur := a.transferredNow()
	a.mu.Lock()
	first := a.samples[0]
	a.mu.Unlock()
	up, down = make([]float64, len(a.xs)), make([]float64, len(a.xs))
	dt := cur.at.Sub(first.at).Seconds()
	if dt < 0.5 {
		return up, down
	}
	for i := range a.xs {
		up[i], down[i] = float64(cur.up[i]-first.up[i])/dt, float64(cur.down[i]-first.down[i])/dt
	}
	return up, down
}
