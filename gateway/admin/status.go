package admin

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"
)

// Status building: each export's counters, their sums, and the health
// rules, so `filegate status`'s exit code and the JSON agree.

// HealthConfig are the limits past which the gateway is unhealthy.
type HealthConfig struct {
	// DirtyFraction of the dirty limit, at most.
	DirtyFraction float64
	// OldestDirty is the longest a file may wait for its upload.
	OldestDirty time.Duration
	// FailingFor is how long an upload may keep failing (or
	// FailingAttempts how many times) before it counts.
	FailingFor      time.Duration
	FailingAttempts int
}

// DefaultHealth returns 80% of the dirty limit, one hour of waiting, and
// uploads failing for a minute or three times.
func DefaultHealth() HealthConfig {
	return HealthConfig{DirtyFraction: 0.8, OldestDirty: time.Hour, FailingFor: time.Minute, FailingAttempts: 3}
}

// Status returns the gateway's state now.
func (a *Server) Status() Status {
	now := time.Now()
	s := Status{
		Version: a.cfg.Version, PID: os.Getpid(), Started: a.cfg.Started,
		UptimeSeconds: now.Sub(a.cfg.Started).Seconds(),
		Exports:       []ExportStatus{}, Clients: []ClientStatus{}, Failing: []Failing{},
		LogLevel: "info",
	}
	if a.cfg.Clients != nil {
		s.Clients = append(s.Clients, a.cfg.Clients()...)
	}
	up, down := a.rates()
	var problems []string
	for i, x := range a.xs {
		e := a.exportStatus(x, now)
		e.Uploads.UpBytesPerSec, e.Uploads.DownBytesPerSec = up[i], down[i]
		s.Exports = append(s.Exports, e)
		s.Failing = append(s.Failing, e.Failing...)
		for _, p := range e.Health.Problems {
			if len(a.xs) > 1 {
				p = x.name + ": " + p
			}
			problems = append(problems, p)
		}
	}
	s.Cache, s.Dirty, s.Uploads = totals(s.Exports)
	s.Health = Health{OK: len(problems) == 0, Problems: append([]string{}, problems...)}
	if a.cfg.Limits != nil {
		s.Limits = a.cfg.Limits()
	}
	if a.cfg.LogLevel != nil {
		s.LogLevel = levelName(a.cfg.LogLevel.Level())
	}
	return s
}

// exportStatus is x's state now, but for the transfer rates.
func (a *Server) exportStatus(x *export, now time.Time) ExportStatus {
	st := x.c.Stats()
	e := ExportStatus{Name: x.name, Listen: a.cfg.Listen, Failing: []Failing{}}
	if x.backend != nil {
		e.Backend = x.backend()
	}
	e.Cache = cacheStatus(CacheStatus{UsedBytes: st.UsedBytes, MaxBytes: st.MaxBytes, Reads: st.LocalReads, Misses: st.Misses,
		ReadBytes: st.LocalReadBytes, MissBytes: st.MissBytes, Evictions: st.Evictions, Conflicts: st.Conflicts})
	e.Dirty = DirtyStatus{Files: st.DirtyFiles, Bytes: st.DirtyBytes, LimitBytes: st.DirtyLimitBytes}
	if !st.OldestDirty.IsZero() {
		e.Dirty.OldestSeconds = max(0, now.Sub(st.OldestDirty).Seconds())
	}
	e.Uploads = UploadStatus{QueueOps: st.JournalOps, Uploaded: st.Uploads, UploadBytes: st.UploadBytes,
		UploadErrors: st.UploadErrors, LastError: st.LastError}
	for _, f := range st.Failing {
		e.Failing = append(e.Failing, Failing{Export: x.name, Path: x.adminPath(f.Key), Op: f.Op, Error: f.Err,
			Attempts: f.Attempts, Since: f.Since})
	}
	e.NamespaceProblem = st.NamespaceProblem
	e.Health = a.health(e, now)
	return e
}

// cacheStatus returns c with its hit rates set from its counters.
func cacheStatus(c CacheStatus) CacheStatus {
	c.HitRate, c.ByteHitRate = nil, nil
	if c.Reads > 0 {
		r := float64(c.Reads-c.Misses) / float64(c.Reads)
		c.HitRate = &r
	}
	if c.ReadBytes > 0 {
		r := float64(c.ReadBytes-c.MissBytes) / float64(c.ReadBytes)
		c.ByteHitRate = &r
	}
	return c
}

// totals adds up the exports' cache, dirty data and uploads.
func totals(xs []ExportStatus) (CacheStatus, DirtyStatus, UploadStatus) {
	var c CacheStatus
	var d DirtyStatus
	var u UploadStatus
	for _, e := range xs {
		c.UsedBytes += e.Cache.UsedBytes
		c.MaxBytes += e.Cache.MaxBytes
		c.Reads += e.Cache.Reads
		c.Misses += e.Cache.Misses
		c.ReadBytes += e.Cache.ReadBytes
		c.MissBytes += e.Cache.MissBytes
		c.Evictions += e.Cache.Evictions
		c.Conflicts += e.Cache.Conflicts
		d.Files += e.Dirty.Files
		d.Bytes += e.Dirty.Bytes
		d.LimitBytes += e.Dirty.LimitBytes
		d.OldestSeconds = max(d.OldestSeconds, e.Dirty.OldestSeconds)
		u.QueueOps += e.Uploads.QueueOps
		u.Uploaded += e.Uploads.Uploaded
		u.UploadBytes += e.Uploads.UploadBytes
		u.UploadErrors += e.Uploads.UploadErrors
		u.UpBytesPerSec += e.Uploads.UpBytesPerSec
		u.DownBytesPerSec += e.Uploads.DownBytesPerSec
		if e.Uploads.LastError != "" {
			u.LastError = e.Uploads.LastError
			if len(xs) > 1 {
				u.LastError = e.Name + ": " + u.LastError
			}
		}
	}
	return cacheStatus(c), d, u
}

// health lists what needs attention in the export e.
func (a *Server) health(e ExportStatus, now time.Time) Health {
	h := a.cfg.Health
	var p []string
	if e.Backend.Probed && !e.Backend.Reachable {
		p = append(p, fmt.Sprintf("backend unreachable: %s", e.Backend.ProbeError))
	}
	if e.NamespaceProblem != "" {
		p = append(p, e.NamespaceProblem)
	}
	failing := 0
	for _, f := range e.Failing {
		if f.Attempts >= h.FailingAttempts || now.Sub(f.Since) >= h.FailingFor {
			failing++
		}
	}
	if failing > 0 {
		p = append(p, fmt.Sprintf("%d backend change(s) failing", failing))
	}
	if e.Dirty.LimitBytes > 0 && float64(e.Dirty.Bytes) > h.DirtyFraction*float64(e.Dirty.LimitBytes) {
		p = append(p, fmt.Sprintf("dirty data at %.0f%% of the dirty limit (over %.0f%%)",
			100*float64(e.Dirty.Bytes)/float64(e.Dirty.LimitBytes), 100*h.DirtyFraction))
	}
	if e.Dirty.OldestSeconds > h.OldestDirty.Seconds() {
		p = append(p, fmt.Sprintf("a file has waited %s for its upload (over %s)",
			(time.Duration(e.Dirty.OldestSeconds)*time.Second).Round(time.Second), h.OldestDirty))
	}
	return Health{OK: len(p) == 0, Problems: append([]string{}, p...)}
}

func levelName(l slog.Level) string { return strings.ToLower(l.String()) }
