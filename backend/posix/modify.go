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
	"time"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// copyChunk bounds how long Copy goes without looking at ctx.
const copyChunk = 16 << 20

// staleTempAge is how long a temp file goes unmodified before Delete takes
// it for the leftover of a crash. A live Put or Copy writes to its temp
// far more often than this.
const staleTempAge = time.Hour

// Delete implements backend.Store. A marker is removed with rmdir, so it
// fails with backend.ErrNotEmpty while entries remain, except temp files
// untouched for staleTempAge: those a crash left behind are removed, so
// they cannot keep a directory the caller sees as empty forever. A file
// key never removes a directory, nor a marker a file.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.delete(ctx, key); err != nil {
		return fmt.Errorf("posix: delete %s: %w", key, err)
	}
	return nil
}

func (s *Store) delete(ctx context.Context, key string) error {
	if err := check(ctx, key); err != nil {
		return err
	}
	p, err := s.openParent(relPath(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer p.close()
	flags := 0
	if isMarker(key) {
		flags = unix.AT_REMOVEDIR
	}
	err = unix.Unlinkat(p.fd, p.name, flags)
	if isMarker(key) && (errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)) {
		if cleared, cerr := p.clearStaleTemps(time.Now().Add(-staleTempAge)); cerr != nil {
			return cerr
		} else if cleared {
			err = unix.Unlinkat(p.fd, p.name, flags)
		}
	}
	switch {
	case errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST):
		return backend.ErrNotEmpty
	case errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EISDIR):
		// Nothing of the key's kind is there.
		return nil
	case err != nil:
		return err
	}
	return p.sync()
}

// Copy implements backend.Store. Files are copied with copy_file_range
// where the filesystem has it. With nil attrs the copy gets src's mode,
// owner (see setAttrs for EPERM) and mtime. Type bits in attrs are
// ignored: the copy has src's type.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	oi, err := s.copy(ctx, src, dst, attrs)
	if err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("posix: copy %s to %s: %w", src, dst, err)
	}
	return oi, nil
}

func (s *Store) copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, src, dst); err != nil {
		return backend.ObjectInfo{}, err
	}
	if isMarker(src) != isMarker(dst) {
		return backend.ObjectInfo{}, fmt.Errorf("one key is a directory marker: %w", backend.ErrInvalidKey)
	}
	st, err := s.statKey(src)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	if !isRegular(st) && !isDir(st) && !isSymlink(st) {
		return backend.ObjectInfo{}, fmt.Errorf("%v file: %w", fileMode(st.Mode).Type(), errors.ErrUnsupported)
	}
	if attrs == nil {
		if src == dst {
			return info(dst, st), nil
		}
		attrs = attrsOf(st)
	}
	drel := relPath(dst)
	if src != dst {
		if err := s.mkdirs(path.Dir(drel)); err != nil {
			return backend.ObjectInfo{}, err
		}
	}
	p, err := s.openParent(drel)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	defer p.close()
	switch {
	case src == dst && isDir(st):
		err = p.setDirAttrs(attrs)
	case src == dst:
		err = p.setAttrs(p.name, attrs, isSymlink(st))
		if err == nil {
			err = p.syncEntry(isSymlink(st))
		}
	case isDir(st):
		if err = p.mkdir(s.cfg.DirPerm); err == nil {
			err = p.setDirAttrs(attrs)
		}
	case isSymlink(st):
		err = s.copySymlink(p, relPath(src), attrs)
	default:
		err = s.copyFile(ctx, p, relPath(src), attrs)
	}
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	st, err = p.lstat(p.name)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	return info(dst, st), nil
}

// syncEntry makes metadata changed in place durable. A symlink cannot be
// opened to fsync; syncing its directory is the best there is.
func (p *parent) syncEntry(symlink bool) error {
	if symlink {
		return p.sync()
	}
	fd, err := unix.Openat(p.fd, p.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

func (s *Store) copySymlink(p *parent, srel string, attrs *backend.Attrs) error {
	sp, err := s.openParent(srel)
	if err != nil {
		return err
	}
	defer sp.close()
	target, err := sp.readlink(sp.name)
	if err != nil {
		return err
	}
	return p.putSymlink(target, attrs)
}

func (s *Store) copyFile(ctx context.Context, p *parent, srel string, attrs *backend.Attrs) error {
	sp, err := s.openParent(srel)
	if err != nil {
		return err
	}
	defer sp.close()
	fd, err := unix.Openat(sp.fd, sp.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	in := os.NewFile(uintptr(fd), srel)
	defer in.Close()
	return p.putFile(s.cfg.FilePerm, attrs, func(out *os.File) error {
		// *os.File to *os.File (through io.LimitedReader) uses
		// copy_file_range; chunks let ctx stop a large copy.
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			if _, err := io.CopyN(out, in, copyChunk); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	})
}

// Rename implements backend.Renamer with rename(2), so a directory moves
// with everything below it at once. Missing parents of dst are made.
// Renaming a marker onto a non-empty directory fails with
// backend.ErrNotEmpty.
func (s *Store) Rename(ctx context.Context, src, dst string) error {
	if err := s.rename(ctx, src, dst); err != nil {
		return fmt.Errorf("posix: rename %s to %s: %w", src, dst, err)
	}
	return nil
}

func (s *Store) rename(ctx context.Context, src, dst string) error {
	if err := check(ctx, src, dst); err != nil {
		return err
	}
	if isMarker(src) != isMarker(dst) {
		return fmt.Errorf("one key is a directory marker: %w", backend.ErrInvalidKey)
	}
	if _, err := s.statKey(src); err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	srel, drel := relPath(src), relPath(dst)
	if err := s.mkdirs(path.Dir(drel)); err != nil {
		return err
	}
	sp, err := s.openParent(srel)
	if err != nil {
		return err
	}
	defer sp.close()
	dp, err := s.openParent(drel)
	if err != nil {
		return err
	}
	defer dp.close()
	err = unix.Renameat(sp.fd, sp.name, dp.fd, dp.name)
	switch {
	case errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %w", backend.ErrNotEmpty, err)
	case err != nil:
		return err
	}
	if err := dp.sync(); err != nil {
		return err
	}
	if path.Dir(srel) != path.Dir(drel) {
		return sp.sync()
	}
	return nil
}

// clearStaleTemps removes the temp files in the entry's directory last
// modified before cutoff, if they are all it holds, and reports whether
// it did. It reads at most one chunk: a directory with more entries than
// that is not empty of anything but temps.
func (p *parent) clearStaleTemps(cutoff time.Time) (bool, error) {
	d, err := openDirAt(p.dir, p.name)
	if err != nil {
		return false, nil // gone or replaced: let rmdir's error stand
	}
	defer d.Close()
	ents, err := d.Readdirnames(readChunk)
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("readdir: %w", err)
	}
	if len(ents) == readChunk {
		return false, nil
	}
	dfd := int(d.Fd())
	for _, name := range ents {
		var st unix.Stat_t
		if !strings.HasPrefix(name, tmpPrefix) || unix.Fstatat(dfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil ||
			isDir(&st) || !time.Unix(st.Mtim.Unix()).Before(cutoff) {
			return false, nil
		}
	}
	for _, name := range ents {
		if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return false, fmt.Errorf("remove stale temp: %w", err)
		}
	}
	return len(ents) > 0, nil
}
