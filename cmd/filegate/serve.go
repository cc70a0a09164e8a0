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
	"github.com/filegate/filegate/backend/metered"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway"
	"github.com/filegate/filegate/gateway/nfsd"
)

// flushTimeout bounds the upload of pending changes at shutdown; what is
// not uploaded by then stays journalled on disk for the next start.
const flushTimeout = 60 * time.Second

// runServe runs the gateway with a validated cfg until ctx is done (SIGINT
// or SIGTERM), then shuts down in order: stop accepting, drain RPCs, flush
// the write-back, close the cache. It returns nil after a clean shutdown.
//
// Around that (daemon.go): the admin socket STATE_DIR/admin.sock, the
// backend probe, the metrics endpoint, sd_notify (READY once listening,
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
	var obs observed
	// The first export (the top-level one, or exports[1]) is the one
	// the admin API, metrics, probe and SIGHUP see.
	units := cfg.ExportUnits()
	first := units[0].Config
	store, closeStore, err := openBackend(ctx, first, logger, obs.wrap(cfg))
	if err != nil {
		return err
	}
	// Deferred first, so it runs after the cache is closed.
	defer closeStore()
	prober := metered.StartProber(obs.metered, probeEvery, probeTimeout)
	defer prober.Close()
	if err := os.MkdirAll(cfg.Server.StateDir, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	c, err := openCache(ctx, first, store, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			logger.Error("close cache", "err", err)
		}
	}()
	caches := []*cache.Cache{c}
	for _, u := range units[1:] {
		xlog := logger.With("export", u.Config.Server.ExportName)
		st, closeSt, err := openBackend(ctx, u.Config, xlog, nil)
		if err != nil {
			return fmt.Errorf("export %s: %w", u.Config.Server.ExportName, err)
		}
		defer closeSt()
		xc, err := openCache(ctx, u.Config, st, xlog)
		if err != nil {
			return fmt.Errorf("export %s: %w", u.Config.Server.ExportName, err)
		}
		defer func() {
			if err := xc.Close(); err != nil {
				xlog.Error("close cache", "err", err)
			}
		}()
		caches = append(caches, xc)
	}

	gcfg := gateway.DefaultConfig()
	gcfg.Listen = cfg.Server.Listen
	gcfg.ExportName = first.Server.ExportName
	gcfg.Logger = logger.With("component", "gateway")
	srv, err := gateway.New(gcfg, c)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (server.listen / --listen): %w", cfg.Server.Listen, err)
	}
	// The front end's clients and RPC counters, for status and metrics.
	fe := frontendStats{clients: srv.Clients, rpc: srv.RPCStats}
	var nsrv *nfsd.Server
	if cfg.Server.Frontend == FrontendNFSD {
		if nsrv, err = newNFSD(cfg, units, caches, logger); err != nil {
			l.Close()
			return err
		}
		meter := gateway.NewRPCMeter()
		l = meter.Listener(l)
		fe = frontendStats{clients: nfsdClients(nsrv), rpc: meter.Stats}
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
	}
	admin, err := gateway.NewAdmin(gateway.AdminConfig{
		Socket: filepath.Join(cfg.Server.StateDir, "admin.sock"), Version: versionString(), Started: started,
		Exports: []gateway.Export{{Name: first.Server.ExportName, Listen: l.Addr().String()}},
		Backend: obs.backendStatus(backendName(first)), Limits: obs.limitsStatus, Transferred: obs.transferred,
		LogLevel: env.level, Logger: logger.With("component", "admin"), Clients: fe.clientStatus,
	}, c, srv)
	if err != nil {
		l.Close()
		return err
	}
	go func() {
		if err := admin.Serve(); err != nil {
			logger.Error("admin socket failed", "err", err)
		}
	}()
	// Closed after the shutdown flush: status answers while it runs.
	defer admin.Close()
	if cfg.Metrics.Listen != "" {
		ms, err := startMetrics(cfg.Metrics.Listen, metricSources{cache: c, srv: srv, backend: obs.metered,
			limits: obs.limits, version: versionString(), clients: fe.count, rpc: fe.rpc}, logger)
		if err != nil {
			l.Close()
			return err
		}
		defer ms.close()
	}
	hupDone := handleHUP(ctx, cfg, env, live{cache: c, level: env.level, limits: obs.limits}, logger)
	defer hupDone()
	for _, u := range units {
		logger.Info("serving NFSv3", "addr", l.Addr().String(), "export", u.Config.Server.ExportName,
			"state", u.Config.Server.StateDir, "backend", backendName(u.Config), "admin", admin.Addr())
	}
	loop := startNotifyLoop(env.notify, statusEvery, func() string { return notifyStatus(c, fe.count(), &obs) })
	defer loop.stop()
	if err := env.notify.send("READY=1\nSTATUS=" + notifyStatus(c, fe.count(), &obs)); err != nil {
		logger.Warn("cannot tell systemd we are ready", "err", err)
	}
	var serveErr error
	if nsrv != nil {
		serveErr = nsrv.Serve(ctx, l)
		nsrv.Close()
		srv.Close() // never served
	} else {
		serveErr = srv.Serve(ctx, l)
	}
	_ = env.notify.send("STOPPING=1")
	if serveErr != nil && !errors.Is(serveErr, gateway.ErrServerClosed) && ctx.Err() == nil {
		return serveErr
	}
	logger.Info("stopping: uploading pending changes", "dur", flushTimeout)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	for i, xc := range caches {
		if err := xc.Flush(fctx); err != nil {
			st := xc.Stats()
			logger.Warn("stopped before every change reached the backend; it stays queued on disk for the next start",
				"export", units[i].Config.Server.ExportName, "err", err, "dirty_files", st.DirtyFiles, "journal_ops", st.JournalOps)
		}
	}
	logger.Info("stopped")
	return nil
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

// newNFSD returns filegate's own NFS server (server.frontend = "nfsd")
// for the exports, caches[i] serving units[i].
func newNFSD(cfg Config, units []ExportUnit, caches []*cache.Cache, logger *slog.Logger) (*nfsd.Server, error) {
	ncfg := nfsd.DefaultConfig()
	ncfg.Logger = logger.With("component", "nfsd")
	mounts := make([]nfsd.Mount, len(units))
	for i, u := range units {
		x, err := nfsdExport(u)
		if err != nil {
			return nil, err
		}
		mounts[i] = nfsd.Mount{Export: x, Nodes: caches[i]}
	}
	if len(mounts) == 1 {
		ncfg.Export = mounts[0].Export
		return nfsd.New(ncfg, caches[0])
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

// openBackend opens the configured store and returns it with its
// closer. The embedded default is a folder under the state folder, made
// on first start. An S3 store is wrapped in the retry layer, the only
// one that retries its requests; opening it checks the bucket and the
// credentials, so a mistake there stops the start with a clear message.
//
// wrap, if set, is put around the store itself, below the retry layer.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger, wrap func(backend.Store) backend.Store) (backend.Store, func(), error) {
	if wrap == nil {
		wrap = func(s backend.Store) backend.Store { return s }
	}
	if cfg.Backend.Type == BackendS3 {
		sc := cfg.S3()
		sc.Logger = logger.With("component", "s3")
		s, err := s3.New(ctx, sc)
		if err != nil {
			return nil, nil, fmt.Errorf("backend: %w", err)
		}
		rc := retry.DefaultConfig()
		rc.Logger = logger.With("component", "retry")
		r, err := retry.New(wrap(s), rc)
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		return r, func() { s.Close() }, nil
	}
	root := cfg.BackendPath()
	if cfg.Backend.Path == "" {
		if err := os.MkdirAll(root, 0o700); err != nil {
			return nil, nil, fmt.Errorf("backend folder: %w", err)
		}
	}
	pcfg := posix.DefaultConfig()
	pcfg.Root = root
	pcfg.Logger = logger.With("component", "posix")
	s, err := posix.New(pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("backend (backend.path %q): %w", root, err)
	}
	return wrap(s), func() { s.Close() }, nil
}

// backendName says where the backend is, for the log.
func backendName(cfg Config) string {
	if cfg.Backend.Type == BackendS3 {
		return "s3://" + cfg.Backend.S3.Bucket + "/" + cfg.Backend.S3.Prefix
	}
	return cfg.BackendPath()
}
