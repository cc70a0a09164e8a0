package posix

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// maxTarget is the longest symlink target Linux accepts (PATH_MAX less
// the NUL).
const maxTarget = 4095

// Put implements backend.Store. Missing parent directories are made with
// DirPerm. A key whose path runs through a file, or a file key where a
// directory is, fails: a POSIX tree cannot hold both.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	oi, err := s.put(ctx, key, r, size, attrs)
	if err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("posix: put %s: %w", key, err)
	}
	return oi, nil
}

func (s *Store) put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, key); err != nil {
		return backend.ObjectInfo{}, err
	}
	symlink := attrs != nil && attrs.Mode&fs.ModeSymlink != 0
	switch {
	case size < 0:
		return backend.ObjectInfo{}, fmt.Errorf("negative size %d", size)
	case isMarker(key) && size != 0:
		return backend.ObjectInfo{}, fmt.Errorf("directory marker with a body of %d bytes", size)
	case isMarker(key) && symlink:
		return backend.ObjectInfo{}, errors.New("directory marker with symlink mode")
	case symlink && size == 0:
		return backend.ObjectInfo{}, errors.New("empty symlink target")
	case symlink && size > maxTarget:
		return backend.ObjectInfo{}, fmt.Errorf("symlink target of %d bytes: %w", size, unix.ENAMETOOLONG)
	}
	if isMarker(key) {
		return s.putDir(key, attrs)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("rewind body: %w", err)
	}
	rel := relPath(key)
	p, err := s.openParentMaking(rel)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	defer p.close()
	if symlink {
		target := make([]byte, size)
		if _, err := io.ReadFull(r, target); err != nil {
			return backend.ObjectInfo{}, fmt.Errorf("read target: %w", unexpectedEOF(err))
		}
		err = p.putSymlink(string(target), attrs)
	} else {
		err = p.putFile(s.cfg.FilePerm, attrs, func(f *os.File) error {
			_, err := io.CopyN(f, ctxReader{ctx, r}, size)
			return unexpectedEOF(err)
		})
	}
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	st, err := p.lstat(p.name)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	return info(key, st), nil
}

// putFile writes a temp file with write, gives it attrs (or perm when
// attrs is nil), and renames it over the entry.
func (p *parent) putFile(perm fs.FileMode, attrs *backend.Attrs, write func(*os.File) error) error {
	f, tmp, err := p.createTemp()
	if err != nil {
		return err
	}
	err = write(f)
	if err == nil {
		if attrs != nil {
			err = p.setAttrs(tmp, attrs, false)
		} else {
			err = p.chmod(tmp, perm)
		}
	}
	if err == nil && (attrs == nil || attrs.MTime.IsZero()) {
		err = p.newerThanOld(tmp)
	}
	if err == nil {
		if err = f.Sync(); err != nil {
			err = fmt.Errorf("sync: %w", err)
		}
	}
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		p.removeTemp(tmp)
		return err
	}
	return p.commit(tmp)
}

// newerThanOld moves the mtime of the temp file tmp, which is the time
// of the write, 1 ns past the entry's when both are equal and so are the
// sizes: timestamps are taken from a clock that ticks every few
// milliseconds, and a version named by an ETag is told from the next by
// size and mtime (see contentTag), so two writes of one size in one tick
// would otherwise look like one version.
func (p *parent) newerThanOld(tmp string) error {
	old, err := p.lstat(p.name)
	if err != nil {
		return nil // nothing there to be told from
	}
	st, err := p.lstat(tmp)
	if err != nil {
		return err
	}
	if old.Size != st.Size || old.Mtim != st.Mtim {
		return nil
	}
	return p.setMTime(tmp, time.Unix(0, old.Mtim.Nano()+1))
}

// putSymlink makes a symlink under a temp name and renames it over the
// entry, so the swap is atomic as for files. A symlink cannot be fsynced;
// syncing the directory after the rename covers it on Linux filesystems.
func (p *parent) putSymlink(target string, attrs *backend.Attrs) error {
	tmp := p.tempName()
	if err := unix.Symlinkat(target, p.fd, tmp); err != nil {
		return fmt.Errorf("symlink: %w", err)
	}
	if attrs != nil {
		if err := p.setAttrs(tmp, attrs, true); err != nil {
			p.removeTemp(tmp)
			return err
		}
	}
	return p.commit(tmp)
}

// putDir makes the directory of a marker key. An existing directory keeps
// its metadata unless attrs is set.
func (s *Store) putDir(key string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	rel := relPath(key)
	p, err := s.openParentMaking(rel)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	defer p.close()
	if err := p.mkdir(s.cfg.DirPerm); err != nil {
		return backend.ObjectInfo{}, err
	}
	if attrs != nil {
		if err := p.setDirAttrs(attrs); err != nil {
			return backend.ObjectInfo{}, err
		}
	}
	st, err := p.lstat(p.name)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	return info(key, st), nil
}

// setDirAttrs sets the attrs of the directory entry and syncs it, since no
// rename carries them to disk.
func (p *parent) setDirAttrs(attrs *backend.Attrs) error {
	if err := p.setAttrs(p.name, attrs, false); err != nil {
		return err
	}
	fd, err := unix.Openat(p.fd, p.name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	return nil
}

func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ctxReader ends a long copy once ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(b)
}
