package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/admin"
	"github.com/filegate/filegate/gateway/nfsd"
)

// The daemon's operational parts around runServe: the observed
// backend, the admin socket's status sources, the sd_notify
// status line and the SIGHUP reload.

// Backend probe: a Stat every probeEvery, bounded by probeTimeout.
const (
	probeEvery   = 15 * time.Second
	probeTimeout = 5 * time.Second
)

// serveEnv is what runServe needs beyond the Config.
type serveEnv struct {
	// level is the logger's level, changed by the admin API and SIGHUP.
	level *slog.LevelVar
	// reload reads the configuration again (file and flags), for SIGHUP;
	// nil: SIGHUP only logs that there is nothing to reload.
	reload func() (Config, error)
	// notify speaks to systemd; nil: the environment's.
	notify *notifier
}

// observed are the layers of an export's store stack (backend/stack)
// that the daemon reads and steers: the metered layer, which the probe
// calls and status reports, and the limit layer, whose schedule a reload
// changes. The limit layers of all exports share one limit.Limiter, so
// the [[limits]] rates bound their sum.
type observed struct {
	metered *metered.Store
	limits  *limit.Store
}

// backendStatus returns the admin API's view of the backend.
func (o *observed) backendStatus(name string) func() admin.BackendStatus {
	return func() admin.BackendStatus {
		b := admin.BackendStatus{Name: name}
		if o.metered == nil {
			return b
		}
		st := o.metered.Stats()
		b.Probed = !st.Probe.At.IsZero()
		b.Reachable, b.LatencySeconds, b.LastProbe, b.ProbeError = st.Probe.Reachable, st.Probe.Latency.Seconds(), st.Probe.At, st.Probe.Err
		b.LastError, b.LastErrorAt, b.LastSuccess = st.LastError, st.LastErrorAt, st.LastSuccess
		b.BytesUp, b.BytesDown = st.BytesUp, st.BytesDown
		for _, op := range st.Ops {
			b.Requests += op.Calls
			b.Errors += op.Errors
		}
		return b
	}
}

// limitsStatus returns the admin API's view of the bandwidth limits.
func (o *observed) limitsStatus() admin.LimitsStatus {
	if o.limits == nil {
		return admin.LimitsStatus{}
	}
	r := o.limits.Current()
	ls := admin.LimitsStatus{UploadBytesPerSec: r.Upload, DownloadBytesPerSec: r.Download, Rule: r.Rule}
	for _, rule := range o.limits.Schedule() {
		ls.Rules = append(ls.Rules, fmt.Sprintf("%s: upload %s, download %s", rule.Text, rateText(rule.Upload), rateText(rule.Download)))
	}
	return ls
}

func (o *observed) transferred() (up, down int64) {
	if o.metered == nil {
		return 0, 0
	}
	st := o.metered.Stats()
	return st.BytesUp, st.BytesDown
}

// rateText formats bytes per second, "unlimited" for 0.
func rateText(bps int64) string {
	if bps <= 0 {
		return "unlimited"
	}
	return humanBytes(bps) + "/s"
}

// notifyStatus is the one-line STATUS= systemd shows, over every export.
func notifyStatus(xs []*served, clients int) string {
	var files, queued, failing int
	var dirty int64
	var down []string
	for _, x := range xs {
		st := x.cache.Stats()
		files, dirty, queued, failing = files+st.DirtyFiles, dirty+st.DirtyBytes, queued+st.JournalOps, failing+len(st.Failing)
		if x.obs.metered != nil {
			if p := x.obs.metered.Stats().Probe; !p.At.IsZero() && !p.Reachable {
				down = append(down, x.name())
			}
		}
	}
	line := fmt.Sprintf("%d clients, %d dirty files (%s), %d queued", clients, files, humanBytes(dirty), queued)
	switch {
	case len(down) > 0 && len(xs) == 1:
		line += ", backend unreachable"
	case len(down) > 0:
		line += ", backend unreachable: " + strings.Join(down, " ")
	}
	if failing > 0 {
		line += fmt.Sprintf(", %d failing", failing)
	}
	return line
}

// live is what a reload can change while running: every export's cache
// and bandwidth limits, and the log level.
type live struct {
	caches []*cache.Cache
	level  *slog.LevelVar
	limits []*limit.Store
}

func newLive(xs []*served, level *slog.LevelVar) live {
	lv := live{level: level}
	for _, x := range xs {
		lv.caches = append(lv.caches, x.cache)
		if x.obs.limits != nil {
			lv.limits = append(lv.limits, x.obs.limits)
		}
	}
	return lv
}

// liveKeys are the config keys a SIGHUP applies; every other change
// needs a restart.
var liveKeys = map[string]bool{
	"cache.size": true, "cache.high_water": true, "cache.low_water": true, "cache.dirty_limit": true,
	"log.level": true, "limits": true,
}

// reloadConfig applies what changed from old to next that can change
// live, logs what needs a restart, and returns the config now in force:
// next's live keys, old's others.
func reloadConfig(old, next Config, lv live, logger *slog.Logger) Config {
	changed := diffKeys("", reflect.ValueOf(old), reflect.ValueOf(next))
	var applied, restart []string
	for _, k := range changed {
		if liveKeys[k] {
			applied = append(applied, k)
		} else {
			restart = append(restart, k)
		}
	}
	inForce := old
	if len(applied) > 0 {
		var errs []string
		// The [cache] settings apply to each export's cache. One that
		// refuses a value is reported; the others keep it.
		if next.Cache.Size != old.Cache.Size || next.Cache.HighWater != old.Cache.HighWater || next.Cache.LowWater != old.Cache.LowWater {
			ok := true
			for _, c := range lv.caches {
				if err := c.SetSize(int64(next.Cache.Size), next.Cache.HighWater, next.Cache.LowWater); err != nil {
					errs, ok = append(errs, err.Error()), false
				}
			}
			if ok {
				inForce.Cache.Size, inForce.Cache.HighWater, inForce.Cache.LowWater = next.Cache.Size, next.Cache.HighWater, next.Cache.LowWater
			}
		}
		if next.Cache.DirtyLimit != old.Cache.DirtyLimit {
			ok := true
			for _, c := range lv.caches {
				if err := c.SetDirtyLimit(int64(next.Cache.DirtyLimit)); err != nil {
					errs, ok = append(errs, err.Error()), false
				}
			}
			if ok {
				inForce.Cache.DirtyLimit = next.Cache.DirtyLimit
			}
		}
		if next.Log.Level != old.Log.Level {
			if l, err := admin.ParseLevel(next.Log.Level); err == nil {
				lv.level.Set(l)
				inForce.Log.Level = next.Log.Level
			}
		}
		if !reflect.DeepEqual(next.Limits, old.Limits) && len(lv.limits) > 0 {
			for _, l := range lv.limits {
				l.SetSchedule(next.Schedule())
			}
			inForce.Limits = next.Limits
		}
		if len(errs) > 0 {
			logger.Error("reload: some settings were not applied", "err", strings.Join(errs, "; "))
		}
		logger.Info("reload: applied", "keys", strings.Join(applied, ", "))
	}
	if len(restart) > 0 {
		logger.Warn("reload: these settings change only at a restart (systemctl restart filegate)", "keys", strings.Join(restart, ", "))
	}
	if len(changed) == 0 {
		logger.Info("reload: no setting changed")
	}
	return inForce
}

// diffKeys lists the config keys (TOML names) whose values differ.
func diffKeys(prefix string, a, b reflect.Value) []string {
	var out []string
	t := a.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := prefix + f.Tag.Get("toml")
		fa, fb := a.Field(i), b.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type.NumField() > 0 && f.Tag.Get("toml") != "" && f.Type.PkgPath() == t.PkgPath() {
			out = append(out, diffKeys(name+".", fa, fb)...)
			continue
		}
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			out = append(out, name)
		}
	}
	return out
}

// humanBytes formats n in binary units: "512 B", "3.2 MiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// handleHUP reloads the configuration on every SIGHUP until ctx ends;
// the returned function stops it.
func handleHUP(ctx context.Context, cfg Config, env serveEnv, lv live, logger *slog.Logger) func() {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		inForce := cfg
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
			}
			if env.reload == nil {
				logger.Info("reload: no config file to read again")
				continue
			}
			_ = env.notify.send(fmt.Sprintf("RELOADING=1\nMONOTONIC_USEC=%d", monotonicUsec()))
			next, err := env.reload()
			if err != nil {
				logger.Error("reload: config not applied; the running settings stay", "err", err)
			} else {
				inForce = reloadConfig(inForce, next, lv, logger)
			}
			_ = env.notify.send("READY=1")
		}
	}()
	return func() {
		signal.Stop(hup)
		signal.Ignore(syscall.SIGHUP) // not the default: that kills
		close(done)
		<-stopped
	}
}

// monotonicUsec is CLOCK_MONOTONIC in microseconds, which systemd wants
// with RELOADING=1.
func monotonicUsec() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return 0
	}
	return ts.Nano() / 1000
}

// nfsStats are the NFS server's clients and RPC counters.
type nfsStats struct {
	clients func() []nfsd.Client
	rpc     func() []nfsd.ProcStats
}

func (f nfsStats) count() int { return len(f.clients()) }

func (f nfsStats) clientStatus() []admin.ClientStatus {
	cl := f.clients()
	slices.SortFunc(cl, func(a, b nfsd.Client) int { return strings.Compare(a.Addr, b.Addr) })
	out := make([]admin.ClientStatus, len(cl))
	for i, c := range cl {
		out[i] = admin.ClientStatus{Addr: c.Addr, Since: c.Since}
	}
	return out
}
