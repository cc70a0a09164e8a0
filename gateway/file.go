package gateway

import (
	"context"
	"io"
	"os"
	"sync"
	"syscall"

	billy "github.com/go-git/go-billy/v5"

	"github.com/filegate/filegate/cache"
)

// file is an open billy.File: an inode number and an offset. Reads and
// writes go straight to the cache by inode, so a rename while the file is
// open does not matter.
type file struct {
	fs   *fsys
	name string
	ino  cache.Ino
	flag int

	mu     sync.Mutex
	off    int64
	dirty  bool // written or truncated since open: Close commits
	closed bool
}

var _ billy.File = (*file)(nil)

// Name returns the path the file was opened with; go-nfs's CREATE stats
// it to describe the new file.
func (fl *file) Name() string { return fl.name }

func (fl *file) readable() bool { return fl.flag&os.O_WRONLY == 0 }
func (fl *file) writable() bool { return fl.flag&(os.O_WRONLY|os.O_RDWR) != 0 }

// Read reads at the file offset and advances it.
func (fl *file) Read(p []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	n, err := fl.readAtLocked("read", p, fl.off)
	fl.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

// ReadAt reads len(p) bytes at off, returning io.EOF with fewer at the
// end of the file.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return fl.readAtLocked("readat", p, off)
}

func (fl *file) readAtLocked(op string, p []byte, off int64) (int, error) {
	switch {
	case fl.closed:
		return 0, fl.fs.pathError(op, fl.name, syscall.EBADF)
	case !fl.readable():
		return 0, fl.fs.pathError(op, fl.name, syscall.EBADF)
	case off < 0:
		return 0, fl.fs.pathError(op, fl.name, syscall.EINVAL)
	case len(p) == 0:
		return 0, nil
	}
	return do(fl.fs, op, fl.name, func(ctx context.Context) (int, error) {
		// io.ReaderAt allows no short read without an error, so keep
		// reading until p is full, the file ends or something fails.
		total := 0
		for total < len(p) {
			n, err := fl.fs.c.ReadAt(ctx, fl.ino, p[total:], off+int64(total))
			total += n
			if err == io.EOF && total == len(p) {
				return total, nil // as os.File does
			}
			if err != nil {
				return total, err
			}
			if n == 0 {
				return total, io.EOF
			}
		}
		return total, nil
	})
}

// Write writes at the file offset (the end, under O_APPEND) and advances
// it.
func (fl *file) Write(p []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch {
	case fl.closed:
		return 0, fl.fs.pathError("write", fl.name, syscall.EBADF)
	case !fl.writable():
		return 0, fl.fs.pathError("write", fl.name, syscall.EBADF)
	}
	fl.dirty = true
	n, err := do(fl.fs, "write", fl.name, func(ctx context.Context) (int, error) {
		if fl.flag&os.O_APPEND != 0 {
			a, err := fl.fs.c.GetAttr(ctx, fl.ino)
			if err != nil {
				return 0, err
			}
			fl.off = a.Size
		}
		n, err := fl.fs.c.WriteAt(ctx, fl.ino, p, fl.off)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		return n, err
	})
	fl.off += int64(n)
	return n, err
}

// Seek moves the file offset.
func (fl *file) Seek(offset int64, whence int) (int64, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return 0, fl.fs.pathError("seek", fl.name, syscall.EBADF)
	}
	return do(fl.fs, "seek", fl.name, func(ctx context.Context) (int64, error) {
		base := int64(0)
		switch whence {
		case io.SeekStart:
		case io.SeekCurrent:
			base = fl.off
		case io.SeekEnd:
			a, err := fl.fs.c.GetAttr(ctx, fl.ino)
			if err != nil {
				return fl.off, err
			}
			base = a.Size
		default:
			return fl.off, syscall.EINVAL
		}
		if base+offset < 0 {
			return fl.off, syscall.EINVAL
		}
		fl.off = base + offset
		return fl.off, nil
	})
}

// Truncate sets the file's size.
func (fl *file) Truncate(size int64) error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch {
	case fl.closed:
		return fl.fs.pathError("truncate", fl.name, syscall.EBADF)
	case !fl.writable():
		return fl.fs.pathError("truncate", fl.name, syscall.EBADF)
	case size < 0:
		return fl.fs.pathError("truncate", fl.name, syscall.EINVAL)
	}
	fl.dirty = true
	return do0(fl.fs, "truncate", fl.name, func(ctx context.Context) error {
		_, err := fl.fs.c.SetAttr(ctx, fl.ino, cache.SetAttr{Size: &size})
		return err
	})
}

// Close makes what was written durable in the cache before returning:
// go-nfs answers every WRITE with FILE_SYNC right after Close, and its
// COMMIT does nothing.
func (fl *file) Close() error {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	if fl.closed {
		return fl.fs.pathError("close", fl.name, syscall.EBADF)
	}
	fl.closed = true
	if !fl.dirty {
		return nil
	}
	return do0(fl.fs, "close", fl.name, func(ctx context.Context) error {
		return fl.fs.c.Commit(ctx, fl.ino)
	})
}

// Lock is not supported (no LockCapability).
func (fl *file) Lock() error { return errUnsupported("lock", fl.name) }

// Unlock is not supported (no LockCapability).
func (fl *file) Unlock() error { return errUnsupported("unlock", fl.name) }
