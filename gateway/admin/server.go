package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path"
	"sync"
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
