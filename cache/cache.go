package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/refresh"
	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/cache/writeback"
	"github.com/filegate/filegate/internal/background"
)

// Config configures a Cache.
type Config struct {
	// Dir is the cache's own folder: the namespace database and the
	// local copies of file contents. It is created if missing.
	Dir string
	// Store is the backend holding the authoritative copy.
	Store backend.Store
	// UploadDelay is how long a file must go unwritten before it is
	// uploaded, so that a file being written is uploaded once.
	UploadDelay time.Duration
	// DefaultFileMode, DefaultDirMode, DefaultUID and DefaultGID are the
	// attributes of backend objects that carry no POSIX metadata.
	DefaultFileMode fs.FileMode
	DefaultDirMode  fs.FileMode
	DefaultUID      uint32
	DefaultGID      uint32
	// RetryMin and RetryMax bound the backoff between attempts of a
	// failing upload or journal op.
	RetryMin, RetryMax time.Duration
	// MaxBytes is the size of the cache: file contents beyond it are
	// evicted, least recently used first, from HighWater down to
	// LowWater (fractions of MaxBytes). Dirty data is never evicted.
	MaxBytes            int64
	HighWater, LowWater float64
	// DirtyLimitBytes bounds the data awaiting upload; past it writes
	// fail with ENOSPC until uploads drain. 0 means no limit.
	DirtyLimitBytes int64
	// ReadAheadBytes is fetched ahead of a sequential reader.
	ReadAheadBytes int64
	// FetchConcurrency bounds parallel ranged GETs of one read, and
	// read-aheads running at once.
	FetchConcurrency int
	// UploadConcurrency is how many file uploads run in parallel.
	UploadConcurrency int
	// DirTTL is how long a directory listing from the backend is
	// trusted before it is listed again; 0 lists only once.
	DirTTL time.Duration
	// SyncInterval, when positive, batches the fsync of data files that
	// Commit asks for: a commit is then durable against a crash of the
	// process at once (the data is in the page cache) and against power
	// loss within SyncInterval. 0 fsyncs at every Commit, so a FILE_SYNC
	// WRITE or a COMMIT is on disk when it is acknowledged.
	SyncInterval time.Duration
	// OpTimeout bounds one backend change of the journal (an upload
	// gets more in proportion to its size), so a hung backend cannot
	// hold the queue: the op fails and is retried.
	OpTimeout time.Duration
	// FS holds the data files; tests put a file system there that
	// fails or loses power on cue. The namespace database stays on
	// the operating system's, in Dir, as bbolt opens its file itself.
	FS     vfs.FS
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every field but Dir and Store set.
func DefaultConfig() Config {
	return Config{
		UploadDelay:       2 * time.Second,
		DefaultFileMode:   0o644,
		DefaultDirMode:    0o755,
		RetryMin:          100 * time.Millisecond,
		RetryMax:          time.Minute,
		MaxBytes:          10 << 30,
		HighWater:         0.9,
		LowWater:          0.8,
		DirtyLimitBytes:   8 << 30,
		ReadAheadBytes:    8 << 20,
		FetchConcurrency:  8,
		UploadConcurrency: 4,
		DirTTL:            time.Minute,
		OpTimeout:         2 * time.Minute,
		FS:                vfs.OS,
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// Validate reports the first problem with cfg.
func (cfg Config) Validate() error {
	switch {
	case cfg.Dir == "":
		return errors.New("cache: Dir is empty")
	case cfg.Store == nil:
		return errors.New("cache: Store is nil")
	case cfg.UploadDelay < 0:
		return errors.New("cache: UploadDelay is negative")
	case cfg.RetryMin <= 0 || cfg.RetryMax < cfg.RetryMin:
		return errors.New("cache: want 0 < RetryMin <= RetryMax")
	case cfg.DefaultFileMode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0,
		cfg.DefaultDirMode&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0:
		return errors.New("cache: default modes may hold permission bits only")
	case cfg.MaxBytes <= 0:
		return errors.New("cache: MaxBytes is not positive")
	case !(0 < cfg.LowWater && cfg.LowWater < cfg.HighWater && cfg.HighWater <= 1):
		return errors.New("cache: want 0 < LowWater < HighWater <= 1")
	case cfg.DirtyLimitBytes < 0 || cfg.ReadAheadBytes < 0 || cfg.DirTTL < 0 || cfg.SyncInterval < 0:
		return errors.New("cache: DirtyLimitBytes, ReadAheadBytes, DirTTL and SyncInterval may not be negative")
	case cfg.OpTimeout <= 0:
		return errors.New("cache: OpTimeout is not positive")
	case cfg.FetchConcurrency < 1 || cfg.UploadConcurrency < 1:
		return errors.New("cache: FetchConcurrency and UploadConcurrency must be at least 1")
	case cfg.FS == nil:
		return errors.New("cache: FS is nil")
	case cfg.Logger == nil:
		return errors.New("cache: Logger is nil")
	}
	return nil
}

// Cache is the local copy of one export. Its lock order is in doc.go.
type Cache struct {
	cfg     Config
	log     *slog.Logger
	ns      *ns.DB
	store   backend.Store
	dataDir string
	files   *content.Files
	// refresh lists directories and takes new versions from the cloud.
	refresh *refresh.Refresher

	// unstable holds unstable writes not yet committed, overlaid on
	// the namespace, and which files were written since their Commit.
	unstable *unstableWrites
	// unsynced holds data files committed but not yet fsynced
	// (SyncInterval).
	unsynced *unsyncedFiles

	// writers counts the writes in flight, by inode (writers.go).
	writers *content.Writers
	// fresh holds chunks fetched but not yet recorded in the database
	// (see persistChunks).
	fresh   *content.Fresh
	fetcher *content.Fetcher
	// lru orders the cached contents by use and holds the cache size.
	lru *content.LRU
	// dirty accounts the files awaiting upload and the dirty limit.
	dirty *writeback.Dirty
	// inline keeps small files' committed content in the namespace
	// (inline.go); the settler runs every settleEvery.
	inline      *content.Inline
	settleEvery time.Duration
	// syncMu serializes Commit and truncate of one inode.
	syncMu syncLocks

	// epochs tells a read or a write whether the content it looked at
	// was dropped since (drops.go).
	epochs *content.Epochs
	// readAheads spots sequential readers and bounds the read-aheads.
	readAheads *content.ReadAhead

	// wb is the write-back: the journal's worker, uploads, flush.
	wb *writeback.Queue
	// life is cancelled by Close; background fetches run under it.
	life context.Context
	stop context.CancelFunc
	// bg runs the background work; Close waits for it.
	bg background.Group
	// mu guards closed.
	mu     sync.Mutex
	closed bool

	stats stats
	// hooks lets tests stop operations midway (hooks.go).
	hooks hooks
}

// New opens (or creates) the cache in cfg.Dir and starts its write-back.
func New(ctx context.Context, cfg Config) (*Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(cfg.Dir, "data")
	if err := cfg.FS.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	files := content.NewFiles(cfg.FS, dataDir, 64)
	if err := files.MakeDirs(); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	now := time.Now().UnixNano()
	db, err := ns.Open(cfg.Dir, ns.Options{
		Root: &ns.Inode{Ino: RootIno, Gen: ns.NewGen(), Mode: fs.ModeDir | cfg.DefaultDirMode,
			Nlink: 2, UID: cfg.DefaultUID, GID: cfg.DefaultGID,
			Atime: now, Mtime: now, Ctime: now, Flags: ns.FlagRemote},
		CheckpointEvery: checkpointEvery,
		Logger:          cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	c := &Cache{
		cfg: cfg, log: cfg.Logger, ns: db, store: cfg.Store, dataDir: dataDir,
		files: files,
		dirty: writeback.NewDirty(cfg.DirtyLimitBytes), fresh: content.NewFresh(), writers: content.NewWriters(), unstable: newUnstableWrites(), settleEvery: settleInterval,
		lru:        content.NewLRU(cfg.MaxBytes, cfg.HighWater, cfg.LowWater),
		readAheads: content.NewReadAhead(cfg.FetchConcurrency), epochs: content.NewEpochs(),
	}
	c.bg.Log = cfg.Logger
	c.unsynced = &unsyncedFiles{inos: map[Ino]bool{}, sync: c.syncData, log: cfg.Logger}
	c.inline = content.NewInline(db, files, func() { c.stats.fsyncs.Add(1) })
	c.fetcher = c.newFetcher()
	for _, step := range []func() error{c.newWriteback, c.restoreInline, c.recover} {
		if err := step(); err != nil {
			db.Close()
			return nil, err
		}
	}
	db.Reserve()
	c.refresh = c.newRefresher()
	c.life, c.stop = context.WithCancel(context.WithoutCancel(ctx))
	c.wb.Start(c.life)
	c.startBackground()
	return c, nil
}

// newWriteback opens the write-back room on the journal as it is.
func (c *Cache) newWriteback() error {
	var err error
	c.wb, err = writeback.New(writeback.Config{
		Host: wbHost{c}, DB: c.ns, Store: c.store, Dirty: c.dirty,
		UploadDelay: c.cfg.UploadDelay, UploadConcurrency: c.cfg.UploadConcurrency,
		RetryMin: c.cfg.RetryMin, RetryMax: c.cfg.RetryMax, OpTimeout: c.cfg.OpTimeout,
		Logger:     c.log,
		OnSettling: func() { c.hooks.at(hookFlushSettling, 0) },
	})
	return err
}

// Close stops the write-back workers, leaving unfinished work journalled
// on disk for the next start, and closes the database.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	c.storeAllPending()
	c.stop()
	c.refresh.Close()
	c.wb.Close()
	c.bg.Wait()
	if err := c.inline.Settle(); err != nil {
		c.log.Warn("sync small files committed in the database; the next start restores them", "op", "settle", "err", err)
	}
	ferr := c.files.Close()
	if err := c.ns.Close(); err != nil {
		return fmt.Errorf("cache: close: %w", err)
	}
	return ferr
}

// update runs fn in a write transaction (shared with concurrent callers:
// see ns.DB.Update) and wakes the write-back worker when it journalled
// something.
func (c *Cache) update(fn func(t *txn) error) error {
	c.wb.BeginUpdate()
	defer c.wb.EndUpdate()
	var t *txn
	err := c.ns.Update(func(nt *ns.Tx) error {
		t = &txn{Tx: nt, pending: c.unstable.of}
		return fn(t)
	})
	if err != nil {
		return err
	}
	if c.hooks.on() {
		t.wb.Cleaned(func(ino Ino) { c.hooks.at(hookCleaned, ino) })
	}
	c.wb.Committed(&t.wb)
	return nil
}

func (c *Cache) view(fn func(t *txn) error) error {
	return c.ns.View(func(nt *ns.Tx) error {
		return fn(&txn{Tx: nt, pending: c.unstable.of})
	})
}

// checkpointEvery is how long namespace updates stay in its log at most.
// Tests that crash with updates in the log make it longer before New.
var checkpointEvery = 2 * time.Second

// startBackground starts the cache's background work, each a loop that
// runs until Close.
func (c *Cache) startBackground() {
	ctx, bg := c.life, &c.bg
	// The namespace is checkpointed now and then (ns.DB.Checkpoint).
	bg.Every(ctx, checkpointEvery/2, nil, func() {
		if err := c.ns.Checkpoint(false); err != nil {
			c.log.Error("namespace checkpoint", "op", "checkpoint", "err", err)
		}
	}, nil)
	// The cache is kept under its high watermark in the background,
	// never inside a client request: past the high mark, least recently
	// used clean files are evicted down to the low mark.
	bg.Every(ctx, 2*time.Second, c.lru.Kicked(), func() {
		if c.lru.Used() > c.lru.High() {
			bg.Guard("evict", func() { c.evictTo(c.lru.Low()) })
		}
	}, nil)
	// Fetched chunks are recorded in batches: one fsync of a data file
	// and one transaction for many chunks, instead of one each.
	bg.Every(ctx, time.Second, c.fresh.Kicked(), func() { bg.Guard("persist", c.persistAll) }, c.persistAll)
	// Inline records are settled every settleEvery, or sooner when they
	// pile up.
	bg.Every(ctx, c.settleEvery, c.inline.Kicked(), func() {
		bg.Guard("settle", func() {
			if err := c.inline.Settle(); err != nil {
				c.log.Warn("sync small files committed in the database", "op", "settle", "err", err)
			}
		})
	}, nil)
	if c.cfg.SyncInterval > 0 {
		// Commits are batched: the data files committed since the last
		// round are fsynced.
		bg.Every(ctx, c.cfg.SyncInterval, nil, func() { bg.Guard("sync", c.unsynced.syncAll) }, c.unsynced.syncAll)
	}
}
