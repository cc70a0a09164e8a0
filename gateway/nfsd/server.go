package nfsd

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/filegate/filegate/cache"
)

// Nodes is the part of the cache's inode API the server uses.
// *cache.Cache satisfies it; tests wrap it to inject faults.
type Nodes interface {
	Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error)
	GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error)
	SetAttr(ctx context.Context, ino cache.Ino, set cache.SetAttr) (cache.Change, error)
	Create(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, cache.Change, error)
	Mkdir(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, cache.Change, error)
	Symlink(ctx context.Context, dir cache.Ino, name, target string, a cache.NewAttr) (cache.Attr, cache.Change, error)
	Readlink(ctx context.Context, ino cache.Ino) (string, error)
	Link(ctx context.Context, ino, dir cache.Ino, name string) (cache.Attr, cache.Change, error)
	Remove(ctx context.Context, dir cache.Ino, name string) (cache.Change, error)
	Rmdir(ctx context.Context, dir cache.Ino, name string) (cache.Change, error)
	Rename(ctx context.Context, srcDir cache.Ino, srcName string, dstDir cache.Ino, dstName string) (cache.Change, cache.Change, error)
	ReadDir(ctx context.Context, dir cache.Ino, cookie uint64, fn func(cache.DirEntry) bool) error
	ReadAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error)
	Write(ctx context.Context, ino cache.Ino, p []byte, off int64, o cache.WriteOpts) (int, cache.Change, error)
	Commit(ctx context.Context, ino cache.Ino) (cache.Attr, error)
	StatFS(ctx context.Context) (cache.FSStat, error)
}

var _ Nodes = (*cache.Cache)(nil)

// Squash says which callers lose their identity.
type Squash int

const (
	// SquashRoot maps uid 0 and gid 0 to the anonymous ids (root_squash).
	SquashRoot Squash = iota
	// SquashNone keeps every identity (no_root_squash).
	SquashNone
	// SquashAll maps every caller to the anonymous ids (all_squash).
	SquashAll
)

// Export is one exported tree and its policy, as in exports(5).
type Export struct {
	// Name is the path clients mount ("/" by default).
	Name string
	// ID goes into every file handle and is fattr3's fsid. It must stay
	// the same for the life of the cache, or clients' handles go stale.
	ID uint32
	// Clients lists the networks allowed to mount and call; empty allows
	// everyone.
	Clients []netip.Prefix
	// ReadOnly refuses every change with NFS3ERR_ROFS.
	ReadOnly bool
	// Squash and the anonymous ids: AUTH_NONE callers, and the squashed
	// ones, act as AnonUID/AnonGID (65534 by default).
	Squash           Squash
	AnonUID, AnonGID uint32
	// Secure requires a source port below 1024. Off by default: NAT in
	// front of the gateway (and qemu's user network) rewrites ports.
	Secure bool
}

// Config configures a Server.
type Config struct {
	Export Export
	// OpTimeout bounds each cache call made for a request; past it the
	// client gets NFS3ERR_JUKEBOX and retries. Keep it below the clients'
	// RPC timeout (Linux: 60 s over TCP).
	OpTimeout time.Duration
	// ConnRequests bounds the requests of one connection in flight;
	// MaxRequests those of all connections. Each holds at most one
	// request buffer and one reply buffer (about 1 MiB each for WRITE
	// and READ).
	ConnRequests int
	MaxRequests  int
	Logger       *slog.Logger
}

// DefaultConfig returns the configuration of a single export "/".
func DefaultConfig() Config {
	return Config{
		Export:       Export{Name: "/", ID: 1, Squash: SquashRoot, AnonUID: 65534, AnonGID: 65534},
		OpTimeout:    30 * time.Second,
		ConnRequests: 64,
		MaxRequests:  512,
		Logger:       slog.New(slog.DiscardHandler),
	}
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	if err := cfg.Export.validate(); err != nil {
		return err
	}
	return cfg.validateServer()
}

func (cfg Config) validateServer() error {
	switch {
	case cfg.OpTimeout <= 0:
		return errors.New("nfsd: OpTimeout is not positive")
	case cfg.ConnRequests <= 0 || cfg.MaxRequests <= 0:
		return errors.New("nfsd: ConnRequests and MaxRequests must be positive")
	case cfg.Logger == nil:
		return errors.New("nfsd: Logger is nil")
	}
	return nil
}

func (x *Export) validate() error {
	switch {
	case !strings.HasPrefix(x.Name, "/") || path.Clean(x.Name) != x.Name:
		return fmt.Errorf("nfsd: export name %q is not a clean absolute path", x.Name)
	case x.Squash < SquashRoot || x.Squash > SquashAll:
		return fmt.Errorf("nfsd: export %s: unknown squash %d", x.Name, x.Squash)
	}
	for _, p := range x.Clients {
		if !p.IsValid() {
			return fmt.Errorf("nfsd: export %s: invalid client prefix", x.Name)
		}
	}
	return nil
}

// Mount is one export of a Server with several (NewExports) and the
// cache it serves.
type Mount struct {
	Export Export
	Nodes  Nodes
}

// export is a served export: its policy, its cache and its index in
// Server.exports (and conn.allowed).
type export struct {
	Export
	c   Nodes
	idx int
}

// ErrServerClosed is returned by Serve after Close.
var ErrServerClosed = errors.New("nfsd: server closed")

// Server answers NFSv3, MOUNT v3 and portmapper v2 calls over TCP for
// one export of a cache (New), or several exports each over a cache of
// its own (NewExports).
type Server struct {
	cfg     Config
	exports []*export // in the order given; the first is the default
	byID    map[uint32]*export
	log     *slog.Logger
	verf    [8]byte       // write verifier: random per start
	global  chan struct{} // slots of MaxRequests
	rpc     rpcStats

	life context.Context // ends the server's cache calls
	stop context.CancelFunc

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	mounts    map[mountEntry]struct{}

	wg      sync.WaitGroup // Serve's watchers
	connsWG sync.WaitGroup // connection goroutines

	// waitHook, set by tests only, runs when shutdown starts waiting for
	// the requests inside the cache: a test can then check that Close
	// has not returned without guessing how long to wait.
	waitHook func()
}

type mountEntry struct{ host, dir string }

// New returns a Server for c. The Server does not own c: close the Server
// before the cache.
func New(cfg Config, c Nodes) (*Server, error) {
	return NewExports(cfg, []Mount{{Export: cfg.Export, Nodes: c}})
}

// NewExports returns a Server for several exports, each over its own
// cache (cfg.Export is not used). Names and IDs must be unique; a handle
// carries its export's ID, so a handle of one export is STALE in every
// other. MNT of a path picks the export with the longest name that is
// the path or a folder above it. The Server owns none of the caches.
func NewExports(cfg Config, mounts []Mount) (*Server, error) {
	if len(mounts) == 0 {
		return nil, errors.New("nfsd: no export")
	}
	if err := cfg.validateServer(); err != nil {
		return nil, err
	}
	exports := make([]*export, len(mounts))
	byID := map[uint32]*export{}
	names := map[string]bool{}
	for i, m := range mounts {
		if m.Nodes == nil {
			return nil, errors.New("nfsd: cache is nil")
		}
		if err := m.Export.validate(); err != nil {
			return nil, err
		}
		if names[m.Export.Name] {
			return nil, fmt.Errorf("nfsd: export %s named twice", m.Export.Name)
		}
		if byID[m.Export.ID] != nil {
			return nil, fmt.Errorf("nfsd: exports %s and %s have the same ID %d", byID[m.Export.ID].Name, m.Export.Name, m.Export.ID)
		}
		exports[i] = &export{Export: m.Export, c: m.Nodes, idx: i}
		names[m.Export.Name] = true
		byID[m.Export.ID] = exports[i]
	}
	cfg.Export = mounts[0].Export
	life, stop := context.WithCancel(context.Background())
	s := &Server{
		cfg:       cfg,
		exports:   exports,
		byID:      byID,
		log:       cfg.Logger,
		global:    make(chan struct{}, cfg.MaxRequests),
		life:      life,
		stop:      stop,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
		mounts:    map[mountEntry]struct{}{},
	}
	if _, err := rand.Read(s.verf[:]); err != nil {
		return nil, fmt.Errorf("nfsd: write verifier: %w", err)
	}
	return s, nil
}

// Serve answers calls on l until ctx is done or Close is called; it
// closes l. When ctx is done the whole Server shuts down as by Close and
// Serve returns nil once no request is inside the cache any more. Other
// failures of l are returned. Serve may run on several listeners.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	s.log.Info("nfs server listening", "op", "serve", "path", s.cfg.Export.Name)

	done := make(chan struct{})
	defer close(done)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		select {
		case <-ctx.Done():
			s.shutdown()
		case <-done:
		}
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				// The watcher may still be waiting for the requests in
				// the cache: so does Serve, as documented.
				s.shutdown()
				return nil
			}
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("nfsd: accept: %w", err)
		}
		c := s.newConn(nc)
		if c == nil {
			// Shutdown began after Accept returned: as after a failed
			// Accept, Serve waits for the requests in the cache.
			nc.Close()
			if ctx.Err() != nil {
				s.shutdown()
			}
			return nil
		}
		go c.serve()
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every client connection, waits for the
// requests inside the cache to finish (each bounded by OpTimeout) and
// then cancels what is left. Close is idempotent.
func (s *Server) Close() error {
	s.shutdown()
	s.wg.Wait()
	return nil
}

func (s *Server) shutdown() {
	s.mu.Lock()
	first := !s.closed
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	if first {
		s.log.Info("nfs server closing", "op", "close", "path", s.cfg.Export.Name)
	}
	if s.waitHook != nil {
		s.waitHook()
	}
	s.connsWG.Wait()
	s.stop()
}

// Client is one connected client as the server sees it.
type Client struct {
	Addr  string    // remote address and port
	Since time.Time // when the connection was accepted
}

// Clients lists the connected clients, one per connection.
func (s *Server) Clients() []Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Client, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, Client{Addr: c.nc.RemoteAddr().String(), Since: c.since})
	}
	return out
}

// conn is one client connection. Its reader decodes records one after
// the other and hands each to a goroutine of its own, at most
// ConnRequests at once; replies go out as they are ready, one socket
// write at a time.
type conn struct {
	s       *Server
	nc      net.Conn
	remote  netip.AddrPort
	since   time.Time
	allowed []bool // by each export's client list and port rule
	sem     chan struct{}
	wg      sync.WaitGroup // this connection's requests

	wmu sync.Mutex // serializes replies on nc
}

func (s *Server) newConn(nc net.Conn) *conn {
	c := &conn{s: s, nc: nc, since: time.Now(), sem: make(chan struct{}, s.cfg.ConnRequests)}
	if ta, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = ta.AddrPort()
	}
	c.allowed = make([]bool, len(s.exports))
	for i, x := range s.exports {
		c.allowed[i] = x.clientAllowed(c.remote)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.conns[c] = struct{}{}
	s.connsWG.Add(1)
	return c
}

// clientAllowed applies the export's client list and secure rule.
func (x *export) clientAllowed(ap netip.AddrPort) bool {
	if x.Secure && ap.Port() >= 1024 {
		return false
	}
	if len(x.Clients) == 0 {
		return true
	}
	a := ap.Addr().Unmap()
	for _, p := range x.Clients {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (c *conn) serve() {
	s := c.s
	defer func() {
		c.wg.Wait()
		c.nc.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.connsWG.Done()
	}()
	for i, ok := range c.allowed {
		if !ok {
			s.log.Info("client not allowed by the export", "op", "connect", "path", s.exports[i].Name,
				"key", c.remote.String())
		}
	}
	r := bufio.NewReaderSize(c.nc, 64<<10)
	for {
		// Slots first: a connection never holds more than ConnRequests
		// request buffers.
		c.sem <- struct{}{}
		select {
		case s.global <- struct{}{}:
		case <-s.life.Done():
			return
		}
		buf, n, err := readRecord(r, maxRecord)
		if err != nil {
			<-s.global
			<-c.sem
			if errors.Is(err, errRecordTooLarge) || errors.Is(err, io.ErrUnexpectedEOF) {
				s.log.Warn("bad RPC record", "op", "read", "key", c.remote.String(), "err", err)
			}
			return
		}
		c.wg.Add(1)
		go func() {
			defer func() {
				<-s.global
				<-c.sem
				c.wg.Done()
			}()
			c.handle(buf, n)
		}()
	}
}

// handle answers one record and releases its buffer.
func (c *conn) handle(buf *[]byte, n int) {
	out := getSmall()
	r := call{conn: c, s: c.s, e: encoder{b: (*out)[:4]}, start: time.Now()}
	defer func() {
		if v := recover(); v != nil {
			c.s.log.Error("panic in request", "op", "rpc", "err", fmt.Sprint(v), "path", string(debug.Stack()))
			r.releasePayload()
			r.panicked()
			c.send(&r)
		}
		putBuf(buf)
		if cap(r.e.b) == smallBuf {
			*out = r.e.b
		}
		putBuf(out)
	}()
	if !r.dispatch((*buf)[:n]) {
		return
	}
	c.send(&r)
}

// send writes r's reply: header, then the READ payload and its padding,
// in one vectored write. A counted call's time ends once its reply is
// written, so a client slow to read shows in its latency.
func (c *conn) send(r *call) {
	pad := (4 - len(r.payload)&3) & 3
	recordMark(r.e.b, len(r.payload)+pad)
	bufs := net.Buffers{r.e.b}
	if len(r.payload) > 0 {
		bufs = append(bufs, r.payload)
		if pad > 0 {
			bufs = append(bufs, zeros[:pad])
		}
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
	_, err := bufs.WriteTo(c.nc)
	c.wmu.Unlock()
	r.releasePayload()
	if err != nil {
		c.s.log.Debug("reply not sent", "op", "write", "key", c.remote.String(), "err", err)
		c.nc.Close()
		return
	}
	if r.counters != nil {
		r.counters.observe(time.Since(r.start))
	}
}
