package gateway

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

// The admin API: HTTP with JSON bodies on a unix socket (mode 0600, in
// the state folder, itself 0700), for `filegate status` and the other
// admin verbs. Endpoints, all under /v1/:
//
//	GET  status     the Status document
//	POST flush      {"path": P, "wait": W}: upload now what is at or
//	                below P ("" or "/" for everything). Without wait it
//	                answers at once with what is pending; with wait it
//	                streams NDJSON Progress lines until everything is in
//	                the backend ({"done": true}) or it fails ({"error"})
//	POST refresh    {"path": P}: list the directory P (or the folder of
//	                the file P) from the backend now
//	POST pin        {"path": P}: fetch P (a file, or every file below a
//	                directory) and keep it cached; unpin undoes it
//	POST unpin      {"path": P}
//	POST evict      {"path": P}: drop the cached content the backend holds
//	GET  loglevel   {"level": "info"}
//	PUT  loglevel   {"level": L}: debug, info, warn or error
//
// PATH is a path inside the export, with or without the leading "/".
// Errors are {"error": "message"} with a 4xx or 5xx status.

// AdminConfig configures an Admin server.
type AdminConfig struct {
	// Socket is the path of the unix socket to listen on.
	Socket string
	// Version and Started are reported as they are.
	Version string
	Started time.Time
	// Exports lists what the NFS server serves, for status.
	Exports []Export
	// Clients lists the connected clients; nil: the Server's (for a
	// front end other than the Server, such as gateway/nfsd).
	Clients func() []ClientStatus
	// Backend reports the backend's state; nil leaves it unknown.
	Backend func() BackendStatus
	// Limits reports the bandwidth limits; nil means none.
	Limits func() LimitsStatus
	// Transferred returns the bytes sent to and received from the
	// backend so far, for the throughput; nil uses the cache's upload
	// and fetch counters.
	Transferred func() (up, down int64)
	// LogLevel is the daemon's log level, changed by PUT loglevel; nil
	// makes it read-only "info".
	LogLevel *slog.LevelVar
	// Health sets when Status says unhealthy.
	Health HealthConfig
	Logger *slog.Logger
}

// Export is one NFS export as status shows it.
type Export struct {
	Name   string `json:"name"`
	Listen string `json:"listen"`
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
	Version       string         `json:"version"`
	PID           int            `json:"pid"`
	Started       time.Time      `json:"started"`
	UptimeSeconds float64        `json:"uptime_seconds"`
	Exports       []Export       `json:"exports"`
	Clients       []ClientStatus `json:"clients"`
	Backend       BackendStatus  `json:"backend"`
	Cache         CacheStatus    `json:"cache"`
	Dirty         DirtyStatus    `json:"dirty"`
	Uploads       UploadStatus   `json:"uploads"`
	Failing       []Failing      `json:"failing"`
	Limits        LimitsStatus   `json:"limits"`
	LogLevel      string         `json:"log_level"`
	Health        Health         `json:"health"`
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

// adminCache is what the admin API uses of the cache.
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

// Admin serves the admin API.
type Admin struct {
	cfg  AdminConfig
	c    adminCache
	srv  *Server
	log  *slog.Logger
	l    net.Listener
	http *http.Server
	life context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup // the sampler and background flushes

	mu      sync.Mutex
	samples []sample // transfer counters, oldest first, the last minute
}

type sample struct {
	at       time.Time
	up, down int64
}

// sampleEvery is how often the transfer counters are sampled for the
// throughput; sampleWindow is the span averaged over.
const (
	sampleEvery  = 5 * time.Second
	sampleWindow = time.Minute
)

// NewAdmin listens on cfg.Socket for the admin API of c and srv (srv
// may be nil: no clients). A socket file left by a daemon that is gone is
// replaced; one that answers means another daemon runs, an error.
// Call Serve, then Close.
func NewAdmin(cfg AdminConfig, c *cache.Cache, srv *Server) (*Admin, error) {
	if c == nil {
		return nil, errors.New("gateway: admin: cache is nil")
	}
	return newAdmin(cfg, c, srv)
}

func newAdmin(cfg AdminConfig, c adminCache, srv *Server) (*Admin, error) {
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
	a := &Admin{cfg: cfg, c: c, srv: srv, log: cfg.Logger, l: l, life: life, stop: stop}
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
		return nil, fmt.Errorf("gateway: admin socket path %q is longer than a unix socket allows (107 bytes)", p)
	}
	if c, err := net.DialTimeout("unix", p, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("gateway: admin socket %s answers: another filegate is running with this state folder", p)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("gateway: admin socket: %w", err)
	}
	l, err := net.Listen("unix", p)
	if err != nil {
		return nil, fmt.Errorf("gateway: admin socket: %w", err)
	}
	// The state folder is 0700, so nobody else reaches the socket before
	// this.
	if err := os.Chmod(p, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("gateway: admin socket: %w", err)
	}
	return l, nil
}

// Addr returns the socket's path.
func (a *Admin) Addr() string { return a.cfg.Socket }

// Serve answers requests until Close; it returns nil then.
func (a *Admin) Serve() error {
	err := a.http.Serve(a.l)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server, cancels running flushes and waits for them,
// and removes the socket.
func (a *Admin) Close() error {
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

func (a *Admin) recoverer(h http.Handler) http.Handler {
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

func (a *Admin) transferred() (up, down int64) {
	if a.cfg.Transferred != nil {
		return a.cfg.Transferred()
	}
	st := a.c.Stats()
	return st.UploadBytes, st.RemoteReadBytes
}

func (a *Admin) sample() {
	up, down := a.transferred()
	now := time.Now()
	a.mu.Lock()
	a.samples = append(a.samples, sample{now, up, down})
	for len(a.samples) > 2 && now.Sub(a.samples[1].at) >= sampleWindow {
		a.samples = a.samples[1:]
	}
	a.mu.Unlock()
}

func (a *Admin) sampler() {
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

// rates returns the bytes per second up and down since the oldest
// sample of the last minute.
func (a *Admin) rates() (up, down float64) {
	cur, curDown := a.transferred()
	now := time.Now()
	a.mu.Lock()
	first := a.samples[0]
	a.mu.Unlock()
	dt := now.Sub(first.at).Seconds()
	if dt < 0.5 {
		return 0, 0
	}
	return float64(cur-first.up) / dt, float64(curDown-first.down) / dt
}

// Status returns the gateway's state now.
func (a *Admin) Status() Status {
	now := time.Now()
	st := a.c.Stats()
	s := Status{
		Version: a.cfg.Version, PID: os.Getpid(), Started: a.cfg.Started,
		UptimeSeconds: now.Sub(a.cfg.Started).Seconds(),
		Exports:       a.cfg.Exports, Clients: []ClientStatus{}, Failing: []Failing{},
		LogLevel: "info",
	}
	if a.cfg.Clients != nil {
		s.Clients = append(s.Clients, a.cfg.Clients()...)
	} else if a.srv != nil {
		for _, c := range a.srv.Clients() {
			s.Clients = append(s.Clients, ClientStatus{Addr: c.Addr, Since: c.Since})
		}
	}
	if a.cfg.Backend != nil {
		s.Backend = a.cfg.Backend()
	}
	s.Cache = CacheStatus{UsedBytes: st.UsedBytes, MaxBytes: st.MaxBytes, Reads: st.LocalReads, Misses: st.Misses,
		ReadBytes: st.LocalReadBytes, MissBytes: st.MissBytes, Evictions: st.Evictions, Conflicts: st.Conflicts}
	if st.LocalReads > 0 {
		r := float64(st.LocalReads-st.Misses) / float64(st.LocalReads)
		s.Cache.HitRate = &r
	}
	if st.LocalReadBytes > 0 {
		r := float64(st.LocalReadBytes-st.MissBytes) / float64(st.LocalReadBytes)
		s.Cache.ByteHitRate = &r
	}
	s.Dirty = DirtyStatus{Files: st.DirtyFiles, Bytes: st.DirtyBytes, LimitBytes: st.DirtyLimitBytes}
	if !st.OldestDirty.IsZero() {
		s.Dirty.OldestSeconds = max(0, now.Sub(st.OldestDirty).Seconds())
	}
	s.Uploads = UploadStatus{QueueOps: st.JournalOps, Uploaded: st.Uploads, UploadBytes: st.UploadBytes,
		UploadErrors: st.UploadErrors, LastError: st.LastError}
	s.Uploads.UpBytesPerSec, s.Uploads.DownBytesPerSec = a.rates()
	for _, f := range st.Failing {
		s.Failing = append(s.Failing, Failing{Path: "/" + f.Key, Op: f.Op, Error: f.Err, Attempts: f.Attempts, Since: f.Since})
	}
	if a.cfg.Limits != nil {
		s.Limits = a.cfg.Limits()
	}
	if a.cfg.LogLevel != nil {
		s.LogLevel = levelName(a.cfg.LogLevel.Level())
	}
	s.Health = a.health(s, now)
	return s
}

// health lists what needs attention in s.
func (a *Admin) health(s Status, now time.Time) Health {
	h := a.cfg.Health
	var p []string
	if s.Backend.Probed && !s.Backend.Reachable {
		p = append(p, fmt.Sprintf("backend unreachable: %s", s.Backend.ProbeError))
	}
	failing := 0
	for _, f := range s.Failing {
		if f.Attempts >= h.FailingAttempts || now.Sub(f.Since) >= h.FailingFor {
			failing++
		}
	}
	if failing > 0 {
		p = append(p, fmt.Sprintf("%d backend change(s) failing", failing))
	}
	if s.Dirty.LimitBytes > 0 && float64(s.Dirty.Bytes) > h.DirtyFraction*float64(s.Dirty.LimitBytes) {
		p = append(p, fmt.Sprintf("dirty data at %.0f%% of the dirty limit (over %.0f%%)",
			100*float64(s.Dirty.Bytes)/float64(s.Dirty.LimitBytes), 100*h.DirtyFraction))
	}
	if s.Dirty.OldestSeconds > h.OldestDirty.Seconds() {
		p = append(p, fmt.Sprintf("a file has waited %s for its upload (over %s)",
			(time.Duration(s.Dirty.OldestSeconds)*time.Second).Round(time.Second), h.OldestDirty))
	}
	return Health{OK: len(p) == 0, Problems: append([]string{}, p...)}
}

func levelName(l slog.Level) string { return strings.ToLower(l.String()) }

func (a *Admin) handleStatus(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, a.Status())
}

// pathRequest is the body of the requests that name a path.
type pathRequest struct {
	Path string `json:"path"`
	Wait bool   `json:"wait"`
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

// resolve walks p from the root: "/docs/a.txt", "docs/a.txt", "" and
// "/" (the root) are accepted.
func (a *Admin) resolve(ctx context.Context, p string) (cache.Attr, string, error) {
	clean := path.Clean("/" + p)
	ino := cache.RootIno
	for _, name := range strings.Split(strings.TrimPrefix(clean, "/"), "/") {
		if name == "" {
			continue
		}
		attr, err := a.c.Lookup(ctx, ino, name)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return cache.Attr{}, clean, &httpError{http.StatusNotFound, fmt.Errorf("%s: no such file or directory in the export", clean)}
			}
			if errors.Is(err, syscall.ENOTDIR) {
				return cache.Attr{}, clean, &httpError{http.StatusNotFound, fmt.Errorf("%s: a component is not a directory", clean)}
			}
			return cache.Attr{}, clean, fmt.Errorf("%s: %w", clean, err)
		}
		ino = attr.Ino
	}
	attr, err := a.c.GetAttr(ctx, ino)
	return attr, clean, err
}

// pathOp decodes a path request and resolves its path.
func (a *Admin) pathOp(w http.ResponseWriter, r *http.Request) (pathRequest, cache.Attr, string, bool) {
	var req pathRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return req, cache.Attr{}, "", false
	}
	attr, clean, err := a.resolve(r.Context(), req.Path)
	if err != nil {
		writeErr(w, err)
		return req, cache.Attr{}, "", false
	}
	return req, attr, clean, true
}

func (a *Admin) handleFlush(w http.ResponseWriter, r *http.Request) {
	req, attr, clean, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	a.log.Info("flush requested", "op", "flush", "path", clean)
	if !req.Wait {
		// Start it in the background and answer with what it found to do.
		first := make(chan Progress, 1)
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			var once sync.Once
			err := a.c.FlushIno(a.life, attr.Ino, func(p cache.Progress) {
				once.Do(func() { first <- Progress{Files: p.Files, Bytes: p.Bytes} })
			})
			if err != nil {
				once.Do(func() { first <- Progress{Error: err.Error()} })
				if a.life.Err() == nil {
					a.log.Warn("flush failed", "op", "flush", "path", clean, "err", err)
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
	err := a.c.FlushIno(r.Context(), attr.Ino, func(cp cache.Progress) {
		p := Progress{Files: cp.Files, Bytes: cp.Bytes}
		if p != last || time.Since(lastAt) >= time.Second {
			sent := p
			if p.Files > 0 {
				if st := a.c.Stats(); len(st.Failing) > 0 {
					f := st.Failing[len(st.Failing)-1]
					sent.Failing, sent.LastError = len(st.Failing), f.Op+" /"+f.Key+": "+f.Err
				}
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

func (a *Admin) handleRefresh(w http.ResponseWriter, r *http.Request) {
	_, attr, clean, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	dir := attr.Ino
	if !attr.IsDir() {
		// A file: refresh the folder it is in.
		parent, _, err := a.resolve(r.Context(), path.Dir(clean))
		if err != nil {
			writeErr(w, err)
			return
		}
		dir = parent.Ino
	}
	if err := a.c.Refresh(r.Context(), dir); err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": clean, "refreshed": true})
}

func (a *Admin) handlePin(w http.ResponseWriter, r *http.Request) {
	_, attr, clean, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	p, err := a.c.Pin(r.Context(), attr.Ino, nil)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": clean, "files": p.Files, "bytes": p.Bytes})
}

func (a *Admin) handleUnpin(w http.ResponseWriter, r *http.Request) {
	_, attr, clean, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	n, err := a.c.Unpin(r.Context(), attr.Ino)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": clean, "files": n})
}

func (a *Admin) handleEvict(w http.ResponseWriter, r *http.Request) {
	_, attr, clean, ok := a.pathOp(w, r)
	if !ok {
		return
	}
	p, err := a.c.Evict(r.Context(), attr.Ino)
	if err != nil {
		writeErr(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"path": clean, "files": p.Files, "bytes": p.Bytes})
}

type levelBody struct {
	Level string `json:"level"`
}

func (a *Admin) handleGetLevel(w http.ResponseWriter, r *http.Request) {
	lvl := "info"
	if a.cfg.LogLevel != nil {
		lvl = levelName(a.cfg.LogLevel.Level())
	}
	writeJSON(w, http.StatusOK, levelBody{lvl})
}

func (a *Admin) handleSetLevel(w http.ResponseWriter, r *http.Request) {
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
