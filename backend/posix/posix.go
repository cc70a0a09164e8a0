package posix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/filegate/filegate/backend"
)

var (
	_ backend.Store         = (*Store)(nil)
	_ backend.Renamer       = (*Store)(nil)
	_ backend.UsageReporter = (*Store)(nil)
)

// tmpPrefix starts the name of every file Put or Copy has not finished;
// ValidateKey keeps keys from using it.
const tmpPrefix = backend.TempPrefix

// Config configures a Store.
type Config struct {
	// Root is the absolute path of an existing directory. New does not
	// create it: a missing mount point must fail loudly rather than let
	// the store fill the disk underneath it.
	Root string
	// FilePerm is the mode of files put without attrs.
	FilePerm fs.FileMode
	// DirPerm is the mode of directories put without attrs and of parent
	// directories made on the way to a key.
	DirPerm fs.FileMode
	// Logger gets an Info line when New's sweep removed leftover temps,
	// and a Warn line when it failed; nil logs nothing.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with the usual permissions and no Root.
func DefaultConfig() Config {
	return Config{FilePerm: 0o644, DirPerm: 0o755}
}

// permBits are the mode bits chmod can set.
const permBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// Validate reports whether c is usable.
func (c Config) Validate() error {
	switch {
	case c.Root == "":
		return errors.New("posix: config: empty Root")
	case !filepath.IsAbs(c.Root):
		return fmt.Errorf("posix: config: Root %q is not absolute", c.Root)
	case c.FilePerm&^permBits != 0:
		return fmt.Errorf("posix: config: FilePerm %v has bits other than permissions", c.FilePerm)
	case c.DirPerm&^permBits != 0:
		return fmt.Errorf("posix: config: DirPerm %v has bits other than permissions", c.DirPerm)
	}
	return nil
}

// Store is a backend.Store over a directory tree. It is safe for
// concurrent use. Two Puts of one key race as renames do: the last wins.
type Store struct {
	cfg  Config
	root *os.Root
	log  *slog.Logger
	// tag is in the name of every temp this Store makes, so the sweep
	// tells them from leftovers of earlier processes.
	tag string
	// stopSweep ends the sweep New started; swept is closed when it ends.
	stopSweep context.CancelFunc
	swept     chan struct{}
}

// New opens the directory cfg.Root and starts removing, in the
// background, the temp files an earlier process left in it (Sweep).
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("posix: open root: %w", err)
	}
	s := &Store{cfg: cfg, root: root, log: cfg.Logger, tag: randomHex(), swept: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopSweep = cancel
	go func() {
		defer close(s.swept)
		start := time.Now()
		n, err := s.Sweep(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("removing temp files left by an earlier run failed; Delete still clears them from directories it removes",
				"path", cfg.Root, "count", n, "err", err)
		case n > 0:
			s.log.Info("removed temp files of uploads an earlier run left unfinished", "path", cfg.Root, "count", n, "dur", time.Since(start))
		}
	}()
	return s, nil
}

// RootDir returns the directory the store is over.
func (s *Store) RootDir() string { return s.cfg.Root }

// Swept returns a channel closed once the sweep New started has ended.
func (s *Store) Swept() <-chan struct{} { return s.swept }

// Close stops the sweep, waits for it, and releases the root directory.
// The Store must not be used after.
func (s *Store) Close() error {
	s.stopSweep()
	<-s.swept
	return s.root.Close()
}

// check is the common preamble of every method taking keys.
func check(ctx context.Context, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, k := range keys {
		if err := backend.ValidateKey(k); err != nil {
			return err
		}
	}
	return nil
}

func isMarker(key string) bool { return strings.HasSuffix(key, "/") }

// relPath maps a key to its path below Root; a marker maps to its
// directory.
func relPath(key string) string { return strings.TrimSuffix(key, "/") }
