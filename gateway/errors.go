package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"syscall"
)

// errnos are the errors the cache documents, most specific first: a cache
// error may satisfy errors.Is for more than one (ESTALE and ENOENT, say),
// and the first match wins.
var errnos = []syscall.Errno{
	syscall.ESTALE,
	syscall.ENOENT,
	syscall.EEXIST,
	syscall.ENOTDIR,
	syscall.EISDIR,
	syscall.ENOTEMPTY,
	syscall.ENAMETOOLONG,
	syscall.ELOOP,
	syscall.ENOSPC,
	syscall.EDQUOT,
	syscall.EFBIG,
	syscall.EROFS,
	syscall.EXDEV,
	syscall.EMLINK,
	syscall.EBADF,
	syscall.ENOTSUP,
	syscall.EINVAL,
	syscall.EPERM,
	syscall.EACCES,
	syscall.ETIMEDOUT,
	syscall.EIO,
}

// errnoOf classifies err. known is false when nothing matched and EIO
// stands in for an error the caller should log, because its detail is
// lost at the billy boundary.
func errnoOf(err error) (e syscall.Errno, known bool) {
	for _, e := range errnos {
		if errors.Is(err, e) {
			return e, true
		}
	}
	if errors.As(err, &e) {
		return e, true
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT, true
	case errors.Is(err, fs.ErrExist):
		return syscall.EEXIST, true
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES, true
	case errors.Is(err, fs.ErrInvalid):
		return syscall.EINVAL, true
	case errors.Is(err, context.DeadlineExceeded):
		return syscall.ETIMEDOUT, true
	case errors.Is(err, context.Canceled):
		return syscall.EIO, true
	}
	return syscall.EIO, false
}

// errIs reports whether err classifies as e.
func errIs(err error, e syscall.Errno) bool {
	got, _ := errnoOf(err)
	return got == e
}

// pathError is the form every error takes at the billy boundary: go-nfs
// tests errors with os.IsNotExist and os.IsPermission, which look only one
// level deep, so Err is exactly fs.ErrNotExist, fs.ErrPermission or a
// syscall.Errno. ESTALE becomes "not exist" because on a path it means a
// directory on the way vanished. io.EOF passes through untouched, as
// io.Reader callers compare it with ==.
func (f *fsys) pathError(op, name string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	e, known := errnoOf(err)
	if !known {
		f.log.Warn("unclassified cache error", "op", op, "path", name, "err", err)
	}
	pe := &fs.PathError{Op: op, Path: name, Err: e}
	switch e {
	case syscall.ENOENT, syscall.ESTALE:
		pe.Err = fs.ErrNotExist
	case syscall.EPERM, syscall.EACCES:
		pe.Err = fs.ErrPermission
	}
	return pe
}

// errUnsupported is returned by the billy methods the gateway does not
// offer (TempFile, Chroot, file locks).
func errUnsupported(op, name string) error {
	return &fs.PathError{Op: op, Path: name, Err: syscall.ENOTSUP}
}

// panicError turns a recovered panic value and its stack into an error
// for the log.
func panicError(r any, stack []byte) error {
	return fmt.Errorf("panic: %v\n%s", r, stack)
}
