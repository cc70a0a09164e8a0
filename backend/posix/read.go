package posix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// Stat implements backend.Store. Every object has Attrs, read from the
// inode. FIFOs, sockets and devices made by other tools are reported with
// their mode; Get and Copy refuse them.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	if err := check(ctx, key); err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("posix: stat %s: %w", key, err)
	}
	st, err := s.statKey(key)
	if err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("posix: stat %s: %w", key, err)
	}
	return info(key, st), nil
}

// Get implements backend.Store. Get of a marker fails with EISDIR. The
// body reads the file opened at the call, so a Put racing with it does
// not tear it; it ignores ctx once returned. A version named by etag is
// checked against the file opened: its size and mtime, the content's
// part of the ETag (ctime moves with a chmod or a rename, which leave
// the content alone).
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	body, err := s.get(ctx, key, off, length, etag)
	if err != nil {
		return nil, fmt.Errorf("posix: get %s: %w", key, err)
	}
	return body, nil
}

func (s *Store) get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	if err := check(ctx, key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("negative offset %d", off)
	}
	if isMarker(key) {
		if _, err := s.statKey(key); err != nil {
			return nil, err
		}
		return nil, unix.EISDIR
	}
	rel := relPath(key)
	p, err := s.openParent(rel)
	if err != nil {
		return nil, notExistIfNotDir(err)
	}
	defer p.close()
	fd, err := unix.Openat(p.fd, p.name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		if etag != "" {
			var st unix.Stat_t
			if err := unix.Fstatat(p.fd, p.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return nil, notExistIfNotDir(fmt.Errorf("stat: %w", err))
			}
			if err := checkVersion(etag, &st); err != nil {
				return nil, err
			}
		}
		target, err := p.readlink(p.name)
		if err != nil {
			return nil, err
		}
		return io.NopCloser(bytes.NewReader(cut([]byte(target), off, length))), nil
	}
	if err != nil {
		return nil, notExistIfNotDir(fmt.Errorf("open: %w", err))
	}
	f := os.NewFile(uintptr(fd), rel)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		f.Close()
		return nil, fmt.Errorf("fstat: %w", err)
	}
	if !isRegular(&st) {
		f.Close()
		if isDir(&st) {
			_, err := s.statKey(key) // for its "directory, not a file" error
			return nil, err
		}
		return nil, fmt.Errorf("%v file: %w", fileMode(st.Mode).Type(), errors.ErrUnsupported)
	}
	if etag != "" {
		if err := checkVersion(etag, &st); err != nil {
			f.Close()
			return nil, err
		}
	}
	off = min(off, st.Size)
	n := st.Size - off
	if length >= 0 && length < n {
		n = length
	}
	return fileBody{io.NewSectionReader(f, off, n), f}, nil
}

// fileBody is a range of an open file.
type fileBody struct {
	*io.SectionReader
	f *os.File
}

func (b fileBody) Close() error { return b.f.Close() }

func (p *parent) readlink(name string) (string, error) {
	buf := make([]byte, maxTarget+1)
	n, err := unix.Readlinkat(p.fd, name, buf)
	if err != nil {
		return "", fmt.Errorf("readlink: %w", err)
	}
	return string(buf[:n]), nil
}

func cut(b []byte, off, length int64) []byte {
	b = b[min(off, int64(len(b))):]
	if length >= 0 && length < int64(len(b)) {
		b = b[:length]
	}
	return b
}

// notExistIfNotDir reports a path running through a file as missing, as
// it would be on an object store.
func notExistIfNotDir(err error) error {
	if errors.Is(err, unix.ENOTDIR) {
		return fmt.Errorf("%w: %w", os.ErrNotExist, err)
	}
	return err
}

// checkVersion fails with backend.ErrChanged unless st holds the content
// of the version etag names (see info). An ETag not of this store's
// form names no version it can check.
func checkVersion(etag string, st *unix.Stat_t) error {
	parts := strings.SplitN(etag, "-", 3)
	if len(parts) < 3 {
		return nil
	}
	if content, now := parts[0]+"-"+parts[1], contentTag(st); content != now {
		return fmt.Errorf("holds version %s, not %s: %w", now, content, backend.ErrChanged)
	}
	return nil
}
