package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/stack"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/admin"
	"github.com/filegate/filegate/gateway/nfsd"
)

// flushTimeout bounds the upload of pending changes at shutdown; what is
// not uploaded by then stays journalled on disk for the next start.
const flushTimeout = 60 * time.Second

// runServe runs the gateway with a validated cfg until ctx is done (SIGINT
// or SIGTERM), then shuts down in order: stop accepting, drain RPCs, flush
// the write-back, close the caches. It returns nil after a clean shutdown.
// Every export has its own backend (observed, limited and probed) and
// cache; one NFS server on one port serves them all.
//
// Around that (daemon.go): the admin socket STATE_DIR/admin.sock, the
// backend probes, the metrics endpoint, sd_notify (READY once listening,
// STATUS and WATCHDOG while running, STOPPING at shutdown) and SIGHUP,
// which reloads what can change live.
func runServe(ctx context.Context, cfg Config, logger *slog.Logger, env serveEnv) error {
	started := time.Now()
	cfg, err := cfg.Absolute()
	if err != nil {
		return err
	}
	if env.level == nil {
		env.level = new(slog.LevelVar)
	}
	if env.notify == nil {
		env.notify = newNotifier()
	}
	defer env.notify.close()
	if err := os.MkdirAll(cfg.Server.StateDir, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	units := cfg.ExportUnits()
	xs := make([]*served, len(units))
	// One limiter for all exports: the [[limits]] rates are the office
	// link's, whichever export's uploads use it.
	lim := limit.NewLimiter(cfg.Schedule())
	for i, u := range units {
		x := &served{unit: u, log: logger}
		if len(units) > 1 {
			x.log = logger.With("export", u.Config.Server.ExportName)
		}
		st, closeStore, err := openBackend(ctx, u.Config, x.log, lim)
		if err != nil {
			return exportErr(units, u, err)
		}
		// Deferred first, so it runs after the cache is closed.
		defer closeStore()
		x.obs = observed{metered: st.Metered, limits: st.Limits}
		prober := metered.StartProber(x.obs.metered, probeEvery, probeTimeout)
		defer prober.Close()
		if x.cache, err = openCache(ctx, u.Config, st.Store, x.log); err != nil {
			return exportErr(units, u, err)
		}
		defer func() {
			if err := x.cache.Close(); err != nil {
				x.log.Error("close cache", "err", err)
			}
		}()
		xs[i] = x
	}

	nsrv, err := newNFSD(units, xs, logger)
	if err != nil {
		return err
	}
	defer nsrv.Close()
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (server.listen / --listen): %w", cfg.Server.Listen, err)
	}
	// The clients and RPC counters, for status and metrics.
	fe := nfsStats{clients: nsrv.Clients, rpc: nsrv.RPCStats}
	if cfg.Server.Portmap {
		host, _, _ := net.SplitHostPort(cfg.Server.Listen)
		pm, err := nfsd.StartPortmap(ctx, nfsd.PortmapConfig{Addr: net.JoinHostPort(host, "111"),
			Port: l.Addr().(*net.TCPAddr).Port, Logger: logger.With("component", "nfsd")})
		if err != nil {
			l.Close()
			return err
		}
		defer pm.Close()
	}
	acfg := admin.Config{
		Socket: filepath.Join(cfg.Server.StateDir, "admin.sock"), Version: versionString(), Started: started,
		Listen: l.Addr().String(), Limits: xs[0].obs.limitsStatus, LogLevel: env.level,
		Logger: logger.With("component", "admin"), Clients: fe.clientStatus,
	}
	for _, x := range xs {
		acfg.Exports = append(acfg.Exports, admin.Export{Name: x.name(), Cache: x.cache,
			Backend: x.obs.backendStatus(backendName(x.unit.Config)), Transferred: x.obs.transferred})
	}
	adm, err := admin.New(acfg)
	if err != nil {
		l.Close()
		return err
	}
	go func() {
		if err := adm.Serve(); err != nil {
			logger.Error("admin socket failed", "err", err)
		}
	}()
	// Closed after the shutdown flush: status answers while it runs.
	defer adm.Close()
	if cfg.Metrics.Listen != "" {
		src := metricSources{limits: xs[0].obs.limits, version: versionString(), clients: fe.count, rpc: fe.rpc}
		for _, x := range xs {
			src.exports = append(src.exports, metricExport{name: x.name(), cache: x.cache, backend: x.obs.metered})
		}
		ms, err := startMetrics(cfg.Metrics.Listen, src, logger)
		if err != nil {
			l.Close()
			return err
		}
		defer ms.close()
	}
	hupDone := handleHUP(ctx, cfg, env, newLive(xs, env.level), logger)
	defer hupDone()
	for _, x := range xs {
		logger.Info("serving NFSv3", "addr", l.Addr().String(), "export", x.name(),
			"state", x.unit.Config.Server.StateDir, "backend", backendName(x.unit.Config), "admin", adm.Addr())
	}
	loop := startNotifyLoop(env.notify, statusEvery, func() string { return notifyStatus(xs, fe.count()) })
	defer loop.stop()
	if err := env.notify.send("READY=1\nSTATUS=" + notifyStatus(xs, fe.count())); err != nil {
		logger.Warn("cannot tell systemd we are ready", "err", err)
	}
	serveErr := nsrv.Serve(ctx, l)
	nsrv.Close()
	_ = env.notify.send("STOPPING=1")
	if serveErr != nil && !errors.Is(serveErr, nfsd.ErrServerClosed) && ctx.Err() == nil {
		return serveErr
	}
	logger.Info("stopping: uploading pending changes", "dur", flushTimeout)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	for _, x := range xs {
		if err := x.cache.Flush(fctx); err != nil {
			st := x.cache.Stats()
			logger.Warn("stopped before every change reached the backend; it stays queued on disk for the next start",
				"export", x.name(), "err", err, "dirty_files", st.DirtyFiles, "journal_ops", st.JournalOps)
		}
	}
	logger.Info("stopped")
	return nil
}

// served is one export as the daemon runs it: its cache over its own
// observed backend.
type served struct {
	unit  ExportUnit
	cache *cache.Cache
	obs   observed
	log   *slog.Logger
}

func (x *served) name() string { return x.unit.Config.Server.ExportName }

// exportErr names the export of err when there are several.
func exportErr(units []ExportUnit, u ExportUnit, err error) error {
	if len(units) == 1 {
		return err
	}
	return fmt.Errorf("export %s: %w", u.Config.Server.ExportName, err)
}

// openCache opens the cache of an export (cfg is an ExportUnit's):
// STATE_DIR/cache of its state folder, over store. A fresh one gets an
// open root (openRoot) unless the export squashes nobody.
func openCache(ctx context.Context, cfg Config, store backend.Store, logger *slog.Logger) (*cache.Cache, error) {
	ccfg := cache.DefaultConfig()
	ccfg.Dir = filepath.Join(cfg.Server.StateDir, "cache")
	if err := os.MkdirAll(cfg.Server.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state folder: %w", err)
	}
	ccfg.Store = store
	ccfg.UploadDelay = time.Duration(cfg.Cache.UploadDelay)
	ccfg.DefaultFileMode = cfg.Cache.DefaultFileMode.FileMode()
	ccfg.DefaultDirMode = cfg.Cache.DefaultDirMode.FileMode()
	ccfg.DefaultUID, ccfg.DefaultGID = cfg.Cache.DefaultUID, cfg.Cache.DefaultGID
	ccfg.MaxBytes, ccfg.HighWater, ccfg.LowWater = int64(cfg.Cache.Size), cfg.Cache.HighWater, cfg.Cache.LowWater
	ccfg.DirtyLimitBytes, ccfg.ReadAheadBytes = int64(cfg.Cache.DirtyLimit), int64(cfg.Cache.ReadAhead)
	ccfg.FetchConcurrency, ccfg.UploadConcurrency = cfg.Cache.FetchConcurrency, cfg.Cache.UploadConcurrency
	ccfg.DirTTL, ccfg.SyncInterval = time.Duration(cfg.Cache.DirTTL), time.Duration(cfg.Cache.SyncInterval)
	ccfg.Logger = logger.With("component", "cache")
	_, statErr := os.Stat(filepath.Join(ccfg.Dir, "namespace.db"))
	c, err := cache.New(ctx, ccfg)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, fs.ErrNotExist) && cfg.Server.Squash != "none" {
		if err := openRoot(ctx, c); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// openRoot makes the root of a fresh namespace mode 1777 (like /tmp):
// under root_squash or all_squash nobody would otherwise be allowed to
// write in a root owned by uid 0 with mode 0755, so every user may create
// there and the sticky bit keeps them from removing each other's files.
// An admin can chmod or chown it from a client afterwards (squash =
// "none"); it is never changed again.
func openRoot(ctx context.Context, c *cache.Cache) error {
	mode := fs.ModePerm | fs.ModeSticky
	if _, err := c.SetAttr(ctx, cache.RootIno, cache.SetAttr{Mode: &mode}); err != nil {
		return fmt.Errorf("export root: %w", err)
	}
	return nil
}

// newNFSD returns filegate's NFS server for the exports, xs[i] serving
// units[i].
func newNFSD(units []ExportUnit, xs []*served, logger *slog.Logger) (*nfsd.Server, error) {
	ncfg := nfsd.DefaultConfig()
	ncfg.Logger = logger.With("component", "nfsd")
	mounts := make([]nfsd.Mount, len(units))
	for i, u := range units {
		x, err := nfsdExport(u)
		if err != nil {
			return nil, err
		}
		mounts[i] = nfsd.Mount{Export: x, Nodes: xs[i].cache}
	}
	if len(mounts) == 1 {
		ncfg.Export = mounts[0].Export
		return nfsd.New(ncfg, xs[0].cache)
	}
	return nfsd.NewExports(ncfg, mounts)
}

// nfsdExport is the nfsd export of u.
func nfsdExport(u ExportUnit) (nfsd.Export, error) {
	cfg := u.Config
	x := nfsd.DefaultConfig().Export
	x.Name, x.ID = cfg.Server.ExportName, u.ID
	switch cfg.Server.Squash {
	case "none":
		x.Squash = nfsd.SquashNone
	case "all":
		x.Squash = nfsd.SquashAll
	}
	x.AnonUID, x.AnonGID = cfg.Server.AnonUID, cfg.Server.AnonGID
	x.ReadOnly, x.Secure = cfg.Server.ReadOnly, cfg.Server.Secure
	clients, err := cfg.ClientPrefixes()
	if err != nil {
		return x, err // Validate has named it
	}
	x.Clients = clients
	return x, nil
}

// openBackend opens the configured store and composes its stack
// (backend/stack) with lim, the limiter all exports share; it returns the
// stack with the store's closer. The embedded default is a folder under
// the state folder, made on first start. An S3 store gets the retry
// layer, the only one that retries its requests; opening it checks the
// bucket and the credentials, so a mistake there stops the start with a
// clear message.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger, lim *limit.Limiter) (stack.Stack, func(), error) {
	sc := stack.Config{Limiter: lim}
	var closeStore func()
	if cfg.Backend.Type == BackendS3 {
		s3c := cfg.S3()
		s3c.Logger = logger.With("component", "s3")
		s, err := s3.New(ctx, s3c)
		if err != nil {
			return stack.Stack{}, nil, fmt.Errorf("backend: %w", err)
		}
		rc := retry.DefaultConfig()
		rc.Logger = logger.With("component", "retry")
		sc.Store, sc.Retry, closeStore = s, &rc, func() { s.Close() }
	} else {
		root := cfg.BackendPath()
		if cfg.Backend.Path == "" {
			if err := os.MkdirAll(root, 0o700); err != nil {
				return stack.Stack{}, nil, fmt.Errorf("backend folder: %w", err)
			}
		}
		pcfg := posix.DefaultConfig()
		pcfg.Root = root
		pcfg.Logger = logger.With("component", "posix")
		s, err := posix.New(pcfg)
		if err != nil {
			return stack.Stack{}, nil, fmt.Errorf("backend (backend.path %q): %w", root, err)
		}
		sc.Store, closeStore = s, func() { s.Close() }
	}
	st, err := stack.New(sc)
	if err != nil {
		closeStore()
		return stack.Stack{}, nil, err
	}
	return st, closeStore, nil
}

// backendName says where the backend is, for the log.
func backendName(cfg Config) string {
	if cfg.Backend.Type == BackendS3 {
		return "s3://" + cfg.Backend.S3.Bucket + "/" + cfg.Backend.S3.Prefix
	}
	return cfg.BackendPath()
}
