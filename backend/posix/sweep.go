package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// Sweep removes the temp files under Root that this Store did not make:
// those of Puts and Copies that an earlier process began and never
// renamed into place, because it was killed or its machine stopped. It
// returns how many it removed. New runs it in the background, once.
//
// Only files and symlinks with a temp name of this package's form are
// removed (tmpPrefix and 16 hex digits, with or without a store's tag and
// "-" between them), never this Store's own, however new, so Sweep is
// safe while the store is in use. It does not look at ages: the store is
// meant to have one writer, and everything an earlier process left is
// dead. Were a second process writing the same tree, its unfinished Puts
// would fail at their rename and be retried by its caller; nothing stored
// is lost.
//
// Sweep reads every directory of the tree once, not following symlinks,
// and stats only temp names; on a large network filesystem that takes a
// while, which is why New does not wait for it. A directory it may not
// read is skipped.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	d, err := s.root.OpenFile(".", os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return 0, fmt.Errorf("posix: sweep: %w", err)
	}
	defer d.Close()
	n, err := s.sweepDir(ctx, d, ".")
	if err != nil {
		return n, fmt.Errorf("posix: sweep: %w", err)
	}
	return n, nil
}

func (s *Store) sweepDir(ctx context.Context, d *os.File, rel string) (int, error) {
	removed := 0
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		des, rerr := d.ReadDir(readChunk)
		for _, de := range des {
			name := de.Name()
			switch {
			case de.IsDir():
				sub, err := openDirAt(d, name)
				if err != nil {
					if missingDir(err) || errors.Is(err, fs.ErrPermission) {
						continue
					}
					return removed, err
				}
				n, err := s.sweepDir(ctx, sub, path.Join(rel, name))
				sub.Close()
				removed += n
				if err != nil {
					return removed, err
				}
			case s.leftover(name):
				fd := int(d.Fd())
				var st unix.Stat_t
				if unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || !isRegular(&st) && !isSymlink(&st) {
					continue
				}
				err := unix.Unlinkat(fd, name, 0)
				switch {
				case err == nil:
					removed++
				case !errors.Is(err, unix.ENOENT):
					return removed, fmt.Errorf("remove %s: %w", path.Join(rel, name), err)
				}
			}
		}
		if rerr == io.EOF {
			return removed, nil
		}
		if rerr != nil {
			return removed, fmt.Errorf("readdir %s: %w", rel, rerr)
		}
	}
}

// leftover reports whether name is a temp this package wrote and this
// Store did not.
func (s *Store) leftover(name string) bool {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok {
		return false
	}
	tag, random, tagged := strings.Cut(rest, "-")
	if !isHex64(tag) || tagged && !isHex64(random) {
		return false
	}
	return !tagged || tag != s.tag
}

// isHex64 reports whether h is 64 bits in lowercase hex, as randomHex
// writes them.
func isHex64(h string) bool {
	if len(h) != 16 {
		return false
	}
	for _, c := range h {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
