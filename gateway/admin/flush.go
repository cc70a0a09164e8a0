package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/filegate/filegate/cache"
)

// A flush of several targets runs them at once and reports the sum of
// what remains, so one progress line covers every export.

// flush uploads everything at or below each target, the targets at
// once, and reports the sum of what remains: first once every target
// has counted its part, then as it shrinks. progress calls never
// overlap. The error names the export of each failure.
func (a *Server) flush(ctx context.Context, ts []target, progress func(Progress)) error {
	var mu sync.Mutex
	parts := make([]*cache.Progress, len(ts))
	errs := make([]error, len(ts))
	var wg sync.WaitGroup
	// report sets target i's part (onlyFirst: unless it has one) and
	// passes the sum on once every part is known.
	report := func(i int, p cache.Progress, onlyFirst bool) {
		mu.Lock()
		defer mu.Unlock()
		if onlyFirst && parts[i] != nil {
			return
		}
		parts[i] = &p
		var sum Progress
		for _, q := range parts {
			if q == nil {
				return
			}
			sum.Files += q.Files
			sum.Bytes += q.Bytes
		}
		progress(sum)
	}
	for i, t := range ts {
		wg.Go(func() {
			err := t.x.c.FlushIno(ctx, t.attr.Ino, func(p cache.Progress) { report(i, p, false) })
			if err != nil && len(ts) > 1 {
				err = fmt.Errorf("%s: %w", t.x.name, err)
				// Failed before counting: count it as nothing left, so
				// the others' progress is not held back by it.
				report(i, cache.Progress{}, true)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// lastFailing is the number of backend changes failing now in the
// exports of ts and the latest one, for a flush's progress.
func lastFailing(ts []target) (int, string) {
	n, last := 0, ""
	var lastAt time.Time
	seen := map[*export]bool{}
	for _, t := range ts {
		if seen[t.x] {
			continue
		}
		seen[t.x] = true
		for _, f := range t.x.c.Stats().Failing {
			n++
			if last == "" || !f.Since.Before(lastAt) {
				last, lastAt = f.Op+" "+t.x.adminPath(f.Key)+": "+f.Err, f.Since
			}
		}
	}
	return n, last
}

func (a *Server) handleFlush(w http.ResponseWriter, r *http.Request) {
	var req pathRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	var ts []target
	if req.Path == "" && req.Export == "" {
		// Everything, even with an export named "/".
		for _, x := range a.xs {
			ts = append(ts, target{x: x, attr: cache.Attr{Ino: cache.RootIno}, inside: "/", path: x.name})
		}
	} else {
		var err error
		if ts, err = a.resolve(r.Context(), req.Path, req.Export); err != nil {
			writeErr(w, err)
			return
		}
	}
	shown := shownPath(ts)
	a.log.Info("flush requested", "op", "flush", "path", shown)
	if !req.Wait {
		// Start it in the background and answer with what it found to do.
		first := make(chan Progress, 1)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			var once sync.Once
			err := a.flush(a.life, ts, func(p Progress) {
				once.Do(func() { first <- p })
			})
			if err != nil {
				once.Do(func() { first <- Progress{Error: err.Error()} })
				if a.life.Err() == nil {
					a.log.Warn("flush failed", "op", "flush", "path", shown, "err", err)
				}
			}
			once.Do(func() { first <- Progress{Done: true} })
		}()
		p := <-first
		if p.Error != "" {
			writeError(w, http.StatusInternalServerError, errors.New(p.Error))
			return
		}
		writeJSON(w, http.StatusOK, p)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	var last Progress
	var lastAt time.Time
	send := func(p Progress) {
		enc.Encode(p)
		if fl != nil {
			fl.Flush()
		}
	}
	err := a.flush(r.Context(), ts, func(p Progress) {
		if p != last || time.Since(lastAt) >= time.Second {
			sent := p
			if p.Files > 0 {
				sent.Failing, sent.LastError = lastFailing(ts)
			}
			send(sent)
			last, lastAt = p, time.Now()
		}
	})
	if err != nil {
		send(Progress{Files: last.Files, Bytes: last.Bytes, Error: err.Error()})
		return
	}
	send(Progress{Done: true})
}
