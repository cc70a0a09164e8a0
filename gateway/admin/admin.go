package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache"
)

// Config configures a Server.
type Config struct {
	// Socket is the path of the unix socket to listen on.
	Socket string
	// Version and Started are reported as they are.
	Version string
	Started time.Time
	// Listen is the NFS server's address, for status.
	Listen string
	// Exports are the exports served; at least one.
	Exports []Export
	// Clients lists the connected NFS clients; nil: none.
	Clients func() []ClientStatus
	// Limits reports the bandwidth limits; nil means none.
	Limits func() LimitsStatus
	// LogLevel is the daemon's log level, changed by PUT loglevel; nil
	// makes it read-only "info".
	LogLevel *slog.LevelVar
	// Health sets when Status says unhealthy.
	Health HealthConfig
	Logger *slog.Logger
}

// Export is one export, with its own cache and backend.
type Export struct {
	// Name is the path clients mount, "/" or "/office".
	Name  string
	Cache *cache.Cache
	// Backend reports the export's backend; nil leaves it unknown.
	Backend func() BackendStatus
	// Transferred returns the bytes sent to and received from the
	// export's backend so far, for the throughput; nil uses the cache's
	// upload and fetch counters.
	Transferred func() (up, down int64)
}

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

// Status is the state of the gateway, one JSON document.
type Status struct {
	Version       string    `json:"version"`
	PID           int       `json:"pid"`
	Started       time.Time `json:"started"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Exports are each export's state, in the order of the config.
	Exports []ExportStatus `json:"exports"`
	Clients []ClientStatus `json:"clients"`
	// Cache, Dirty, Uploads and Failing add up every export's.
	Cache    CacheStatus  `json:"cache"`
	Dirty    DirtyStatus  `json:"dirty"`
	Uploads  UploadStatus `json:"uploads"`
	Failing  []Failing    `json:"failing"`
	Limits   LimitsStatus `json:"limits"`
	LogLevel string       `json:"log_level"`
	// Health is every export's: OK only when each is; with several
	// exports each problem starts with the export's name.
	Health Health `json:"health"`
}

// ExportStatus is the state of one export.
type ExportStatus struct {
	Name string `json:"name"`
	// Listen is the NFS server's address (the same for every export).
	Listen  string        `json:"listen"`
	Backend BackendStatus `json:"backend"`
	Cache   CacheStatus   `json:"cache"`
	Dirty   DirtyStatus   `json:"dirty"`
	Uploads UploadStatus  `json:"uploads"`
	Failing []Failing     `json:"failing"`
	// NamespaceProblem says what is wrong with the namespace's log or
	// database (updates slower, or refused until a restart).
	NamespaceProblem string `json:"namespace_problem,omitempty"`
	Health           Health `json:"health"`
}

// ClientStatus is one connected client.
type ClientStatus struct {
	Addr string `json:"addr"`
	// Since is when it connected; zero when the front end does not say.
	Since time.Time `json:"since,omitzero"`
}

// BackendStatus is what is known of the backend.
type BackendStatus struct {
	Name string `json:"name"`
	// Probed is false until the first probe ended; Reachable and
	// LatencySeconds are the last probe's.
	Probed         bool      `json:"probed"`
	Reachable      bool      `json:"reachable"`
	LatencySeconds float64   `json:"latency_seconds"`
	LastProbe      time.Time `json:"last_probe,omitzero"`
	ProbeError     string    `json:"probe_error,omitempty"`
	// LastError is the last failed request, of any kind.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	Requests    int64     `json:"requests"`
	Errors      int64     `json:"errors"`
	BytesUp     int64     `json:"bytes_up"`
	BytesDown   int64     `json:"bytes_down"`
}

// CacheStatus is the cache's use of its disk and its hit rates.
type CacheStatus struct {
	UsedBytes int64 `json:"used_bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	Reads     int64 `json:"reads"`
	Misses    int64 `json:"misses"`
	ReadBytes int64 `json:"read_bytes"`
	MissBytes int64 `json:"miss_bytes"`
	// HitRate and ByteHitRate are fractions of reads and bytes served
	// without waiting for the backend; null before the first read.
	HitRate     *float64 `json:"hit_rate"`
	ByteHitRate *float64 `json:"byte_hit_rate"`
	Evictions   int64    `json:"evictions"`
	Conflicts   int64    `json:"conflicts"`
}

// DirtyStatus is the data awaiting upload.
type DirtyStatus struct {
	Files      int   `json:"files"`
	Bytes      int64 `json:"bytes"`
	LimitBytes int64 `json:"limit_bytes"`
	// OldestSeconds is how long the longest-waiting file has waited.
	OldestSeconds float64 `json:"oldest_seconds"`
}

// UploadStatus is the write-back queue and the transfer rates.
type UploadStatus struct {
	// QueueOps counts the backend changes journalled and not yet done.
	QueueOps     int   `json:"queue_ops"`
	Uploaded     int64 `json:"uploaded"`
	UploadBytes  int64 `json:"upload_bytes"`
	UploadErrors int64 `json:"upload_errors"`
	// UpBytesPerSec and DownBytesPerSec are averaged over the last
	// minute (less just after start).
	UpBytesPerSec   float64 `json:"up_bytes_per_sec"`
	DownBytesPerSec float64 `json:"down_bytes_per_sec"`
	LastError       string  `json:"last_error,omitempty"`
}

// Failing is a backend change that keeps failing.
type Failing struct {
	// Export is the export's name; Path is the file's, written as the
	// admin verbs take it (the export's name, then the path inside).
	Export   string    `json:"export"`
	Path     string    `json:"path"`
	Op       string    `json:"op"`
	Error    string    `json:"error"`
	Attempts int       `json:"attempts"`
	Since    time.Time `json:"since"`
}

// LimitsStatus are the bandwidth limits.
type LimitsStatus struct {
	// UploadBytesPerSec and DownloadBytesPerSec are in force now; 0 is
	// no limit.
	UploadBytesPerSec   int64 `json:"upload_bytes_per_sec"`
	DownloadBytesPerSec int64 `json:"download_bytes_per_sec"`
	// Rule is the schedule rule in force, "" when none.
	Rule string `json:"rule,omitempty"`
	// Rules lists the schedule, one line per rule.
	Rules []string `json:"rules,omitempty"`
}

// Health says whether the gateway needs attention.
type Health struct {
	OK       bool     `json:"ok"`
	Problems []string `json:"problems"`
}

// Progress is one line of a flush's progress: what remains.
type Progress struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Failing counts the backend changes failing right now (anywhere),
	// LastError is the latest one's error: why a flush may be stuck.
	Failing   int    `json:"failing,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Done is set on the last line, Error on a failure.
	Done  bool   `json:"done,omitempty"`
	Error string `json:"error,omitempty"`
}

// adminCache is what the admin API uses of a cache.
type adminCache interface {
	Stats() cache.Stats
	Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error)
	GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error)
	FlushIno(ctx context.Context, ino cache.Ino, progress func(cache.Progress)) error
	Refresh(ctx context.Context, dir cache.Ino) error
	Pin(ctx context.Context, ino cache.Ino, progress func(cache.Progress)) (cache.Progress, error)
	Unpin(ctx context.Context, ino cache.Ino) (int, error)
	Evict(ctx context.Context, ino cache.Ino) (cache.Progress, error)
}

// export is one export as the Server keeps it.
type export struct {
	name        string
	c           adminCache
	backend     func() BackendStatus
	transferred func() (up, down int64)
}

// adminPath writes p, a path inside x, as the admin verbs take it.
func (x *export) adminPath(p string) string { return path.Join(x.name, "/"+p) }

// Server serves the admin API.
type Server struct {
	cfg  Config
	xs   []*export
	log  *slog.Logger
	l    net.Listener
	http *http.Server
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the sampler and background flushes

	mu      sync.Mutex
	samples []sample // transfer counters, oldest first, the last minute
}

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

// New listens on cfg.Socket for the admin API of cfg.Exports. A
// socket file left by a daemon that is gone is replaced; one that
// answers means another daemon runs, an error. Call Serve, then Close.
func New(cfg Config) (*Server, error) {
	if len(cfg.Exports) == 0 {
		return nil, errors.New("admin: no exports")
	}
	xs := make([]*export, len(cfg.Exports))
	seen := map[string]bool{}
	for i, e := range cfg.Exports {
		if e.Cache == nil {
			return nil, fmt.Errorf("admin: export %q: cache is nil", e.Name)
		}
		name := path.Clean("/" + e.Name)
		if seen[name] {
			return nil, fmt.Errorf("admin: export %q twice", name)
		}
		seen[name] = true
		xs[i] = &export{name: name, c: e.Cache, backend: e.Backend, transferred: e.Transferred}
	}
	return newServer(cfg, xs)
}

func newServer(cfg Config, xs []*export) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Health == (HealthConfig{}) {
		cfg.Health = DefaultHealth()
	}
	l, err := listenUnix(cfg.Socket)
	if err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	a := &Server{cfg: cfg, xs: xs, log: cfg.Logger, l: l, life: life, stop: stop}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", a.handleStatus)
	mux.HandleFunc("POST /v1/flush", a.handleFlush)
	mux.HandleFunc("POST /v1/refresh", a.handleRefresh)
	mux.HandleFunc("POST /v1/pin", a.handlePin)
	mux.HandleFunc("POST /v1/unpin", a.handleUnpin)
	mux.HandleFunc("POST /v1/evict", a.handleEvict)
	mux.HandleFunc("GET /v1/loglevel", a.handleGetLevel)
	mux.HandleFunc("PUT /v1/loglevel", a.handleSetLevel)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no endpoint %s %s", r.Method, r.URL.Path))
	})
	a.http = &http.Server{Handler: a.recoverer(mux), BaseContext: func(net.Listener) context.Context { return life },
		ReadHeaderTimeout: 10 * time.Second}
	a.sample()
	a.wg.Add(1)
	go a.sampler()
	return a, nil
}

// listenUnix listens on a unix socket at p with mode 0600.
func listenUnix(p string) (net.Listener, error) {
	if len(p) >= 108 {
		return nil, fmt.Errorf("admin: socket path %q is longer than a unix socket allows (107 bytes)", p)
	}
	if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("admin: socket %s answers: another filegate is running with this state folder", p)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	// The state folder is 0700, so nobody else reaches the socket before
	// this.
	if err := os.Chmod(p, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("admin: socket: %w", err)
	}
	return l, nil
}

// Addr returns the socket's path.
func (a *Server) Addr() string { return a.cfg.Socket }

// Serve answers requests until Close; it returns nil then.
func (a *Server) Serve() error {
	err := a.http.Serve(a.l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, cancels running flushes and waits for them,
// and removes the socket.
func (a *Server) Close() error {
	a.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := a.http.Shutdown(ctx)
	if err != nil {
		err = a.http.Close()
	}
	a.wg.Wait()
	return err
}

func (a *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				a.log.Error("admin request panicked", "op", r.URL.Path, "err", fmt.Sprint(v))
				writeError(w, http.StatusInternalServerError, fmt.Errorf("internal error: %v", v))
			}
		}()
		h.ServeHTTP(w, r)
	})
}

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

func (a *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

// pathRequest is the body of the requests that name a path.
type pathRequest struct {
	Path   string `json:"path"`
	Export string `json:"export"`
	Wait   bool   `json:"wait"`
}

// httpError carries an HTTP status for an error.
type httpError struct {
	code int
	err  error
}

func (e *httpError) Error() string { return e.err.Error() }
func (e *httpError) Unwrap() error { return e.err }

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &httpError{http.StatusBadRequest, fmt.Errorf("bad request body: %w", err)}
	}
	return nil
}

// target is a file or directory of one export that a request names.
type target struct {
	x      *export
	attr   cache.Attr
	inside string // the path inside x
	path   string // as the admin verbs take it
}

// exportNames lists the exports' names, for messages.
func (a *Server) exportNames() string {
	names := make([]string, len(a.xs))
	for i, x := range a.xs {
		names[i] = x.name
	}
	return strings.Join(names, ", ")
}

// split finds the export p names and the path inside it (see the API
// comment): nil for every export's root.
func (a *Server) split(p, exportName string) (*export, string, error) {
	clean := path.Clean("/" + p)
	if exportName != "" {
		name := path.Clean("/" + exportName)
		for _, x := range a.xs {
			if x.name == name {
				return x, clean, nil
			}
		}
		return nil, "", &httpError{http.StatusNotFound, fmt.Errorf("no export %s (the exports: %s)", name, a.exportNames())}
	}
	var best *export
	for _, x := range a.xs {
		if (x.name == "/" || clean == x.name || strings.HasPrefix(clean, x.name+"/")) && (best == nil || len(x.name) > len(best.name)) {
			best = x
		}
	}
	switch {
	case best != nil:
		return best, path.Clean("/" + strings.TrimPrefix(clean, best.name)), nil
	case clean == "/":
		return nil, "/", nil
	case len(a.xs) == 1:
		return a.xs[0], clean, nil
	}
	return nil, "", &httpError{http.StatusNotFound, fmt.Errorf("%s is in no export: give the export's name first, such as %s (the exports: %s)",
		clean, path.Join(a.xs[0].name, clean), a.exportNames())}
}

// resolve returns what p names: a file or directory of one export, or
// every export's root.
func (a *Server) resolve(ctx context.Context, p, exportName string) ([]target, error) {
	x, inside, err := a.split(p, exportName)
	if err != nil {
		return nil, err
	}
	if x == nil {
		out := make([]target, 0, len(a.xs))
		for _, x := range a.xs {
			attr, err := x.c.GetAttr(ctx, cache.RootIno)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", x.name, err)
			}
			out = append(out, target{x: x, attr: attr, inside: "/", path: x.name})
		}
		return out, nil
	}
	attr, err := x.walk(ctx, inside)
	if err != nil {
		return nil, err
	}
	return []target{{x: x, attr: attr, inside: inside, path: x.adminPath(inside)}}, nil
}

// walk looks up the clean path p from x's root.
func (x *export) walk(ctx context.Context, p string) (cache.Attr, error) {
	ino := cache.RootIno
	for name := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		if name == "" {
			continue
		}
		attr, err := x.c.Lookup(ctx, ino, name)
		if err != nil {
			shown := x.adminPath(p)
			if errors.Is(err, fs.ErrNotExist) {
				return cache.Attr{}, &httpError{http.StatusNotFound, fmt.Errorf("%s: no such file or directory in the export", shown)}
			}
			if errors.Is(err, syscall.ENOTDIR) {
				return cache.Attr{}, &httpError{http.StatusNotFound, fmt.Errorf("%s: a component is not a directory", shown)}
			}
			return cache.Attr{}, fmt.Errorf("%s: %w", shown, err)
		}
		ino = attr.Ino
	}
	return x.c.GetAttr(ctx, ino)
}

// shownPath is how an answer names the targets.
func shownPath(ts []target) string {
	if len(ts) == 1 {
		return ts[0].path
	}
	return "/"
}

// pathOp decodes a path request and resolves its path.
func (a *Server) pathOp(w http.ResponseWriter, r *http.Request) (pathRequest, []target, string, bool) {
	var req pathRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return req, nil, "", false
	}
	ts, err := a.resolve(r.Context(), req.Path, req.Export)
	if err != nil {
		writeErr(w, err)
		return req, nil, "", false
	}
	return req, ts, shownPath(ts), true
}

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

func (a *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	for _, t := range ts {
		dir := t.attr.Ino
		if !t.attr.IsDir() {
			// A file: refresh the folder it is in.
			parent, err := t.x.walk(r.Context(), path.Dir(t.inside))
			if err != nil {
				writeErr(w, err)
				return
			}
			dir = parent.Ino
		}
		if err := t.x.c.Refresh(r.Context(), dir); err != nil {
			writeErr(w, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "refreshed": true})
}

func (a *Server) handlePin(w http.ResponseWriter, r *http.Request) {
	a.progressOp(w, r, func(ctx context.Context, c adminCache, ino cache.Ino) (cache.Progress, error) {
		return c.Pin(ctx, ino, nil)
	})
}

// progressOp runs op on every target of the request's path and answers
// with the files and bytes it reports in all.
func (a *Server) progressOp(w http.ResponseWriter, r *http.Request, op func(context.Context, adminCache, cache.Ino) (cache.Progress, error)) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	var sum cache.Progress
	for _, t := range ts {
		p, err := op(r.Context(), t.x.c, t.attr.Ino)
		if err != nil {
			writeErr(w, err)
			return
		}
		sum.Files, sum.Bytes = sum.Files+p.Files, sum.Bytes+p.Bytes
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "files": sum.Files, "bytes": sum.Bytes})
}

func (a *Server) handleUnpin(w http.ResponseWriter, r *http.Request) {
	_, ts, shown, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	sum := 0
	for _, t := range ts {
		n, err := t.x.c.Unpin(r.Context(), t.attr.Ino)
		if err != nil {
			writeErr(w, err)
			return
		}
		sum += n
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": shown, "files": sum})
}

func (a *Server) handleEvict(w http.ResponseWriter, r *http.Request) {
	a.progressOp(w, r, func(ctx context.Context, c adminCache, ino cache.Ino) (cache.Progress, error) {
		return c.Evict(ctx, ino)
	})
}

type levelBody struct {
	Level string `json:"level"`
}

func (a *Server) handleGetLevel(w http.ResponseWriter, r *http.Request) {
	lvl := "info"
	if a.cfg.LogLevel != nil {
		lvl = levelName(a.cfg.LogLevel.Level())
	}
	writeJSON(w, http.StatusOK, levelBody{lvl})
}

func (a *Server) handleSetLevel(w http.ResponseWriter, r *http.Request) {
	var req levelBody
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return
	}
	lvl, err := ParseLevel(req.Level)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	if a.cfg.LogLevel == nil {
		writeError(w, http.StatusNotImplemented, errors.New("the log level cannot be changed"))
		return
	}
	old := a.cfg.LogLevel.Level()
	a.log.Info("log level changed", "op", "loglevel", "from", levelName(old), "to", levelName(lvl))
	a.cfg.LogLevel.Set(lvl)
	writeJSON(w, http.StatusOK, levelBody{levelName(lvl)})
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("log level %q: want debug, info, warn or error", s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, errorBody{err.Error()})
}

// writeErr answers err with its status: 4xx for a bad request or path,
// 503 when the daemon is stopping, else 500.
func writeErr(w http.ResponseWriter, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.code, err)
	case errors.Is(err, context.Canceled):
		writeError(w, http.StatusServiceUnavailable, fmt.Errorf("filegate is stopping: %w", err))
	case errors.Is(err, fs.ErrNotExist):
		writeError(w, http.StatusNotFound, err)
	default:
		writeError(w, http.StatusInternalServerError, err)
	}
}
