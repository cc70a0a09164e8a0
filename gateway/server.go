package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	nfs "github.com/willscott/go-nfs"

	"github.com/filegate/filegate/cache"
)

// Config configures a Server.
type Config struct {
	// Listen is the TCP address the daemon listens on (host:port); Serve
	// takes the listener, so the Server itself only validates it.
	Listen string
	// ExportName is the path clients mount ("/" by default; "" is
	// accepted from clients as "/").
	ExportName string
	// ExportID goes into every file handle. It must stay the same for the
	// life of the cache, or clients' handles go stale; two exports of one
	// host need different ids.
	ExportID uint32
	// OpTimeout bounds each cache call made for an NFS request. Keep it
	// below the clients' RPC timeout (Linux: 60 s over TCP), since a client
	// retransmits after that.
	OpTimeout time.Duration
	Logger    *slog.Logger
}

// DefaultConfig returns the configuration of a single export "/" on the
// NFS port.
func DefaultConfig() Config {
	return Config{
		Listen:     ":2049",
		ExportName: "/",
		ExportID:   1,
		OpTimeout:  30 * time.Second,
		Logger:     slog.New(slog.DiscardHandler),
	}
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	if _, _, err := net.SplitHostPort(cfg.Listen); err != nil {
		return fmt.Errorf("gateway: Listen %q: %w", cfg.Listen, err)
	}
	switch {
	case !strings.HasPrefix(cfg.ExportName, "/") || path.Clean(cfg.ExportName) != cfg.ExportName:
		return fmt.Errorf("gateway: ExportName %q is not a clean absolute path", cfg.ExportName)
	case cfg.OpTimeout <= 0:
		return errors.New("gateway: OpTimeout is not positive")
	case cfg.Logger == nil:
		return errors.New("gateway: Logger is nil")
	}
	return nil
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("gateway: server closed")

// Server serves one cache as an NFSv3 export through go-nfs.
type Server struct {
	cfg   Config
	h     *Handler
	conns *conns
	stop  context.CancelFunc // ends the lifetime of the server's cache calls
	wg    sync.WaitGroup     // Serve's watcher goroutines

	closeOnce sync.Once
	down      chan struct{} // closed when shutdown is complete
}

// New returns a Server for c. The Server does not own c: close the Server
// before the cache.
func New(cfg Config, c *cache.Cache) (*Server, error) {
	if c == nil {
		return nil, errors.New("gateway: cache is nil")
	}
	return newServer(cfg, c)
}

func newServer(cfg Config, c nodes) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	life, stop := context.WithCancel(context.Background())
	f := newFS(c, life, cfg.OpTimeout, cfg.Logger)
	return &Server{
		cfg:   cfg,
		h:     newHandler(f, cfg.ExportName, cfg.ExportID, cfg.Logger),
		conns: newConns(),
		stop:  stop,
		down:  make(chan struct{}),
	}, nil
}

// Handler returns the server's go-nfs Handler.
func (s *Server) Handler() *Handler { return s.h }

// Serve answers NFS and MOUNT requests on l until ctx is done or Close is
// called; it closes l. When ctx is done the whole Server shuts down as by
// Close. Serve then returns nil, but only once no request is inside the
// cache any more, so the caller may close the cache right after. Other
// failures of l are returned. Serve may run on several listeners at once.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	tl, ok := s.conns.listen(l)
	if !ok {
		l.Close()
		return ErrServerClosed
	}
	routeNFSLog(s.cfg.Logger)
	s.cfg.Logger.Info("nfs server listening", "op", "serve", "path", s.cfg.ExportName)

	done := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-done:
		}
	}()
	srv := &nfs.Server{Handler: s.h, Context: s.h.fs.life}
	err := srv.Serve(tl)
	close(done)
	if ctx.Err() != nil || s.isClosed() {
		s.shutdown()
		return nil
	}
	return fmt.Errorf("gateway: serve: %w", err)
}

func (s *Server) isClosed() bool { return s.conns.isClosed() }

// Close stops accepting, closes every client connection, waits for the
// requests inside the cache to finish (each is bounded by OpTimeout) and
// then cancels what is left. go-nfs's own per-connection goroutines are
// not joined (go-nfs offers no way to); once their connection is closed
// they hold nothing of ours and exit at their next read. Close is
// idempotent.
func (s *Server) Close() error {
	s.shutdown()
	s.wg.Wait()
	return nil
}

// shutdown is Close without waiting for Serve's watchers, which call it.
// Every caller returns only once the first call is complete.
func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		s.conns.close()
		s.h.fs.gate.close()
		s.stop()
		s.cfg.Logger.Info("nfs server closed", "op", "close", "path", s.cfg.ExportName)
		close(s.down)
	})
	<-s.down
}

// Clients lists the connected clients, oldest first.
func (s *Server) Clients() []Client { return s.conns.clients() }
