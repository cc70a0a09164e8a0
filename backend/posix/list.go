package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// readChunk is how many entries List reads from a directory at a time.
const readChunk = 1024

// List implements backend.Store.
//
// With Delimiter "/" it reads only the one directory the prefix names.
// Without, it walks the tree depth first, each directory contributing its
// marker and then its contents, which is key order because "d/" sorts
// before every key below it. Either way it holds the names of one whole
// directory per level being walked, sorted in memory, since readdir
// returns them unordered: about 100 bytes per entry, so 10 MB for a
// directory of 100,000. A StartAfter deep in the tree skips the subtrees
// before it without reading them.
//
// Keys over backend.MaxKeyBytes, which deep trees made by other tools can
// hold, are skipped: no method could take them.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	l := &lister{ctx: ctx, opts: opts, fn: fn}
	err := s.list(l)
	if l.fnErr != nil {
		if errors.Is(l.fnErr, backend.ErrStopList) {
			return nil
		}
		return l.fnErr
	}
	if err != nil {
		return fmt.Errorf("posix: list %s: %w", opts.Prefix, err)
	}
	return nil
}

type lister struct {
	ctx   context.Context
	opts  backend.ListOptions
	fn    func(backend.ObjectInfo) error
	fnErr error // what fn returned, passed back as is
}

// errFn unwinds the walk once fn has returned an error.
var errFn = errors.New("callback failed")

func (l *lister) emit(oi backend.ObjectInfo) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	if err := l.fn(oi); err != nil {
		l.fnErr = err
		return errFn
	}
	return nil
}

func (s *Store) list(l *lister) error {
	if err := l.ctx.Err(); err != nil {
		return err
	}
	if d := l.opts.Delimiter; d != "" && d != "/" {
		return fmt.Errorf("unsupported delimiter %q", d)
	}
	i := strings.LastIndexByte(l.opts.Prefix, '/')
	dirKey, namePrefix := l.opts.Prefix[:i+1], l.opts.Prefix[i+1:]
	if dirKey != "" && backend.ValidateKey(dirKey) != nil {
		return nil // no valid key starts with it
	}
	d, err := s.openListDir(dirKey)
	if err != nil {
		if missingDir(err) {
			return nil
		}
		return err
	}
	defer d.Close()
	if dirKey != "" && namePrefix == "" && dirKey > l.opts.StartAfter {
		// The listed directory's own marker, as S3 lists "a/" for
		// prefix "a/".
		var st unix.Stat_t
		if err := unix.Fstat(int(d.Fd()), &st); err != nil {
			return fmt.Errorf("fstat: %w", err)
		}
		if err := l.emit(info(dirKey, &st)); err != nil {
			return err
		}
	}
	return l.walk(d, dirKey, namePrefix)
}

// openListDir opens the directory of a marker key ("" for Root) without
// following a symlink in its place.
func (s *Store) openListDir(dirKey string) (*os.File, error) {
	if dirKey == "" {
		return s.root.OpenFile(".", os.O_RDONLY|unix.O_DIRECTORY, 0)
	}
	p, err := s.openParent(relPath(dirKey))
	if err != nil {
		return nil, err
	}
	defer p.close()
	return openDirAt(p.dir, p.name)
}

func openDirAt(d *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), path.Join(d.Name(), name)), nil
}

// missingDir reports an error meaning there is no directory to list,
// perhaps because it vanished under us.
func missingDir(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP)
}

// entry is one name in a directory; key is the name plus "/" for a
// directory, which is what it sorts by.
type entry struct {
	key string
	dir bool
}

func (e entry) name() string { return strings.TrimSuffix(e.key, "/") }

// walk lists the entries of d, whose marker key is dirKey, that start with
// namePrefix, descending into subdirectories unless delimited.
func (l *lister) walk(d *os.File, dirKey, namePrefix string) error {
	ents, err := l.readDir(d, dirKey, namePrefix)
	if err != nil {
		return err
	}
	after := l.opts.StartAfter
	delimited := l.opts.Delimiter != ""
	for _, e := range ents {
		key := dirKey + e.key
		if key <= after && !(e.dir && !delimited && strings.HasPrefix(after, key)) {
			// Before the resume point, and so is all below it.
			continue
		}
		if e.dir && delimited {
			if err := l.emit(l.prefixInfo(d, e.name(), key)); err != nil {
				return err
			}
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(int(d.Fd()), e.name(), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if missingDir(err) {
				continue
			}
			return fmt.Errorf("lstat %s: %w", key, err)
		}
		if isDir(&st) != e.dir {
			continue // replaced since readdir; a later listing will see it
		}
		if key > after {
			if err := l.emit(info(key, &st)); err != nil {
				return err
			}
		}
		if e.dir {
			if err := l.descend(d, e.name(), key); err != nil {
				return err
			}
		}
	}
	return nil
}

// prefixInfo describes the subdirectory name of d as a common prefix,
// with its attributes from an lstat unless the caller knows it already
// (ListOptions.Known), which saves a round trip per directory on a
// network filesystem. A directory that vanished or changed type since
// readdir is a bare prefix; the next listing sees the change.
func (l *lister) prefixInfo(d *os.File, name, key string) backend.ObjectInfo {
	if l.opts.Known != nil {
		if _, ok := l.opts.Known(key); ok {
			return backend.ObjectInfo{Key: key, Prefix: true, Known: true}
		}
	}
	var st unix.Stat_t
	if err := unix.Fstatat(int(d.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || !isDir(&st) {
		return backend.ObjectInfo{Key: key, Prefix: true}
	}
	oi := info(key, &st)
	oi.Prefix = true
	return oi
}

func (l *lister) descend(d *os.File, name, key string) error {
	sub, err := openDirAt(d, name)
	if err != nil {
		if missingDir(err) {
			return nil
		}
		return err
	}
	defer sub.Close()
	return l.walk(sub, key, "")
}

// readDir returns the entries of d starting with namePrefix, sorted by
// key, leaving out temp files and names no key can hold.
func (l *lister) readDir(d *os.File, dirKey, namePrefix string) ([]entry, error) {
	var ents []entry
	for {
		if err := l.ctx.Err(); err != nil {
			return nil, err
		}
		des, err := d.ReadDir(readChunk)
		for _, de := range des {
			name := de.Name()
			if !strings.HasPrefix(name, namePrefix) || strings.HasPrefix(name, tmpPrefix) {
				continue
			}
			e := entry{key: name, dir: de.IsDir()}
			if e.dir {
				e.key += "/"
			}
			if len(name) > backend.MaxNameBytes || len(dirKey)+len(e.key) > backend.MaxKeyBytes {
				continue
			}
			ents = append(ents, e)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("readdir %s: %w", dirKey, err)
		}
	}
	slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	return ents, nil
}
