package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/retry"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway"
)

// flushTimeout bounds the upload of pending changes at shutdown; what is
// not uploaded by then stays journalled on disk for the next start.
const flushTimeout = 60 * time.Second

// runServe runs the gateway with a validated cfg until ctx is done (SIGINT
// or SIGTERM), then shuts down in order: stop accepting, drain RPCs, flush
// the write-back, close the cache. It returns nil after a clean shutdown.
func runServe(ctx context.Context, cfg Config, logger *slog.Logger) error {
	store, closeStore, err := openBackend(ctx, cfg, logger)
	if err != nil {
		return err
	}
	// Deferred first, so it runs after the cache is closed.
	defer closeStore()
	if err := os.MkdirAll(cfg.Server.StateDir, 0o700); err != nil {
		return fmt.Errorf("state folder: %w", err)
	}
	ccfg := cache.DefaultConfig()
	ccfg.Dir = filepath.Join(cfg.Server.StateDir, "cache")
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
	c, err := cache.New(ctx, ccfg)
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Close(); err != nil {
			logger.Error("close cache", "err", err)
		}
	}()

	gcfg := gateway.DefaultConfig()
	gcfg.Listen = cfg.Server.Listen
	gcfg.ExportName = cfg.Server.ExportName
	gcfg.Logger = logger.With("component", "gateway")
	srv, err := gateway.New(gcfg, c)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s (server.listen / --listen): %w", cfg.Server.Listen, err)
	}
	logger.Info("serving NFSv3", "addr", l.Addr().String(), "export", cfg.Server.ExportName,
		"state", cfg.Server.StateDir, "backend", backendName(cfg))
	serveErr := srv.Serve(ctx, l)
	if serveErr != nil && !errors.Is(serveErr, gateway.ErrServerClosed) && ctx.Err() == nil {
		return serveErr
	}
	logger.Info("stopping: uploading pending changes", "dur", flushTimeout)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
	defer cancel()
	if err := c.Flush(fctx); err != nil {
		st := c.Stats()
		logger.Warn("stopped before every change reached the backend; it stays queued on disk for the next start",
			"err", err, "dirty_files", st.DirtyFiles, "journal_ops", st.JournalOps)
	}
	logger.Info("stopped")
	return nil
}

// openBackend opens the configured store and returns it with its
// closer. The embedded default is a folder under the state folder, made
// on first start. An S3 store is wrapped in the retry layer, the only
// one that retries its requests; opening it checks the bucket and the
// credentials, so a mistake there stops the start with a clear message.
func openBackend(ctx context.Context, cfg Config, logger *slog.Logger) (backend.Store, func(), error) {
	if cfg.Backend.Type == BackendS3 {
		sc := cfg.S3()
		sc.Logger = logger.With("component", "s3")
		s, err := s3.New(ctx, sc)
		if err != nil {
			return nil, nil, fmt.Errorf("backend: %w", err)
		}
		rc := retry.DefaultConfig()
		rc.Logger = logger.With("component", "retry")
		r, err := retry.New(s, rc)
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
	s, err := posix.New(pcfg)
	if err != nil {
		return nil, nil, fmt.Errorf("backend (backend.path %q): %w", root, err)
	}
	return s, func() { s.Close() }, nil
}

// backendName says where the backend is, for the log.
func backendName(cfg Config) string {
	if cfg.Backend.Type == BackendS3 {
		return "s3://" + cfg.Backend.S3.Bucket + "/" + cfg.Backend.S3.Prefix
	}
	return cfg.BackendPath()
}
