// Package posix is a backend.Store over a directory: a local folder, or an
// EFS or NFS mount. Key "a/b.txt" is the file ROOT/a/b.txt and marker "a/"
// is the directory ROOT/a, so other tools see ordinary files. Attrs live in
// the inode itself (mode, owner, mtime), never in side files.
//
// Writes are durable and atomic: a temp file in the target directory,
// fsync, rename, fsync of the directory. Temp names begin with
// ".filegate-tmp-" (backend.TempPrefix): List hides them, and
// backend.ValidateKey refuses keys with such a name.
// Temps orphaned by a crash are removed only when Delete finds them the
// last things in a directory it is asked to remove; finding them all would
// need a walk of the whole tree.
//
// Every access goes through an os.Root and *at system calls on an open
// parent directory, so a symlink inside the tree cannot lead a key outside
// Root. A key's last component is never followed: a symlink is an object
// of its own. The package targets Linux.
package posix

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

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
}

// New opens the directory cfg.Root.
func New(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("posix: open root: %w", err)
	}
	return &Store{cfg: cfg, root: root}, nil
}

// RootDir returns the directory the store is over.
func (s *Store) RootDir() string { return s.cfg.Root }

// Close releases the root directory. The Store must not be used after.
func (s *Store) Close() error {
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
