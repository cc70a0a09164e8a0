package refresh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/internal/background"
)

// Host is the cache as the refresh room sees it.
type Host interface {
	// View and Update run fn in a namespace transaction (Update: one
	// that may write, sharing commits with concurrent callers).
	View(fn func(Tx) error) error
	Update(fn func(Tx) error) error
	// DropContent runs fn in an update, on ino's inode, as a drop of
	// ino's local content: under its data lock, so no fetch or write
	// lands in the old data file meanwhile. When fn reports true, the
	// inode as fn changed it loses its local content, which is
	// forgotten once the update is durable. A gone ino is no error.
	DropContent(ino ns.Ino, fn func(t Tx, n *ns.Inode) bool) error
	// DropStale drops ino's local content unless it is dirty: a
	// listing removed it.
	DropStale(ino ns.Ino)
}

// Tx is a cache transaction as the refresh room sees it.
type Tx interface {
	// NS is the transaction itself, for entries, keys and buckets.
	NS() *ns.Tx
	// Inode returns ino with its unstable writes not yet committed
	// applied, or an error satisfying errors.Is(err, syscall.ESTALE)
	// when it no longer exists.
	Inode(ino ns.Ino) (*ns.Inode, error)
	// PutInode stores n, keeping the cache's content records in step.
	PutInode(n *ns.Inode) error
	// DeleteInode removes ino with its content records.
	DeleteInode(ino ns.Ino) error
	// Busy reports whether a refresh must leave n's content alone: a
	// write is in flight, or unstable writes not yet committed are in
	// it.
	Busy(n *ns.Inode) bool
	// Dirty calls fn for each file with changes not yet uploaded.
	Dirty(fn func(ino ns.Ino)) error
	// Pending calls fn for each key that journal ops not yet applied
	// change.
	Pending(fn func(key string)) error
}

// Config configures a Refresher.
type Config struct {
	Host  Host
	Store backend.Store
	// DirTTL is how long a directory listing from the backend is
	// trusted before it is listed again; 0 lists only once.
	DirTTL time.Duration
	// DefaultFileMode, DefaultDirMode, DefaultUID and DefaultGID are the
	// attributes of backend objects that carry no POSIX metadata.
	DefaultFileMode, DefaultDirMode fs.FileMode
	DefaultUID, DefaultGID          uint32
	Logger                          *slog.Logger
	// BeforeNewVersion, when set, runs before a file changed in the
	// cloud is given its new version; tests stop there.
	BeforeNewVersion func(ino ns.Ino)
}

// Refresher lists directories and takes new versions of files. Its
// background refreshes run until Close.
type Refresher struct {
	cfg   Config
	host  Host
	store backend.Store
	log   *slog.Logger
	// loads merges concurrent listings of one directory, and concurrent
	// looks at one changed file.
	loads singleflight.Group

	life context.Context
	stop context.CancelFunc
	bg   background.Group

	mu sync.Mutex
	// refreshing holds directories being listed again in the background.
	refreshing map[ns.Ino]bool
	closed     bool
}

// New returns a Refresher over cfg.Host and cfg.Store.
func New(cfg Config) *Refresher {
	r := &Refresher{cfg: cfg, host: cfg.Host, store: cfg.Store, log: cfg.Logger, refreshing: map[ns.Ino]bool{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.bg.Log = r.log
	r.life, r.stop = context.WithCancel(context.Background())
	return r
}

// Close cancels the background refreshes and waits for them.
func (r *Refresher) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.stop()
	r.bg.Wait()
}

// LoadDir makes sure dir's entries from the backend are in the
// namespace. A directory is listed from the backend the first time it is
// used (directories made here start loaded), and again in the background
// once its listing is older than DirTTL, so clients never wait on the
// backend for a directory they have seen, even when it is down.
func (r *Refresher) LoadDir(ctx context.Context, dir ns.Ino) error {
	var loaded bool
	var loadedAt int64
	err := r.host.View(func(t Tx) error {
		d, err := t.NS().GetDir(dir)
		if err == nil {
			loaded, loadedAt = d.Has(ns.FlagLoaded), d.LoadedAt
		}
		return err
	})
	if err != nil {
		return err
	}
	if !loaded {
		return r.list(ctx, dir, false)
	}
	if r.cfg.DirTTL > 0 && time.Since(time.Unix(0, loadedAt)) > r.cfg.DirTTL {
		r.RefreshLater(dir)
	}
	return nil
}

// Refresh lists dir from the backend now, picking up changes made in
// the cloud by others.
func (r *Refresher) Refresh(ctx context.Context, dir ns.Ino) error {
	return r.list(ctx, dir, true)
}

// list lists dir, once at a time: a caller that comes while a listing
// of dir runs shares its outcome.
func (r *Refresher) list(ctx context.Context, dir ns.Ino, refresh bool) error {
	_, err, _ := r.loads.Do(fmt.Sprintf("dir/%d", dir), func() (any, error) {
		return nil, r.loadDir(ctx, dir, refresh)
	})
	return err
}

// RefreshLater lists dir again in the background, once at a time.
func (r *Refresher) RefreshLater(dir ns.Ino) {
	r.mu.Lock()
	if r.refreshing[dir] || r.closed {
		r.mu.Unlock()
		return
	}
	r.refreshing[dir] = true
	// Started under mu, so Close, which sets closed under mu, waits for it.
	r.bg.Go(func() {
		defer func() {
			r.mu.Lock()
			delete(r.refreshing, dir)
			r.mu.Unlock()
		}()
		r.bg.Guard("refresh", func() { r.refresh(dir) })
	})
	r.mu.Unlock()
}

// refresh is one background listing of dir.
func (r *Refresher) refresh(dir ns.Ino) {
	ctx, cancel := context.WithTimeout(r.life, 5*time.Minute)
	defer cancel()
	err := r.list(ctx, dir, true)
	if err == nil || r.life.Err() != nil {
		return
	}
	// A directory removed while it was listed (rm -rf, git gc)
	// has nothing left to refresh: its ESTALE is no failure.
	if gerr := r.host.View(func(t Tx) error { _, err := t.Inode(dir); return err }); errors.Is(gerr, syscall.ESTALE) {
		r.log.Debug("refresh dropped: the directory is gone", "op", "refresh")
		return
	}
	r.log.Warn("directory refresh failed; serving the cached listing", "op", "refresh", "err", err)
}

// Relist lists the directory of ino again soon: its object changed or
// went away.
func (r *Refresher) Relist(ino ns.Ino) {
	var parent ns.Ino
	_ = r.host.View(func(t Tx) error {
		n, err := t.Inode(ino)
		if err == nil {
			parent = n.Parent
		}
		return err
	})
	if parent != 0 {
		r.RefreshLater(parent)
	}
}
