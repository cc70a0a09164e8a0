package nfsd

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"slices"
	"syscall"
)

// nfsstat3 values (RFC 1813 §2.6).
const (
	nfs3OK             = 0
	nfs3ErrPerm        = 1
	nfs3ErrNoEnt       = 2
	nfs3ErrIO          = 5
	nfs3ErrNXIO        = 6
	nfs3ErrAcces       = 13
	nfs3ErrExist       = 17
	nfs3ErrXDev        = 18
	nfs3ErrNoDev       = 19
	nfs3ErrNotDir      = 20
	nfs3ErrIsDir       = 21
	nfs3ErrInval       = 22
	nfs3ErrFBig        = 27
	nfs3ErrNoSpc       = 28
	nfs3ErrROFS        = 30
	nfs3ErrMLink       = 31
	nfs3ErrNameTooLong = 63
	nfs3ErrNotEmpty    = 66
	nfs3ErrDQuot       = 69
	nfs3ErrStale       = 70
	nfs3ErrBadHandle   = 10001
	nfs3ErrNotSync     = 10002
	nfs3ErrBadCookie   = 10003
	nfs3ErrNotSupp     = 10004
	nfs3ErrTooSmall    = 10005
	nfs3ErrServerFault = 10006
	nfs3ErrBadType     = 10007
	nfs3ErrJukebox     = 10008
)

// errnoStatus maps an errno to its NFSv3 status.
var errnoStatus = map[syscall.Errno]uint32{
	syscall.EPERM:        nfs3ErrPerm,
	syscall.ENOENT:       nfs3ErrNoEnt,
	syscall.EIO:          nfs3ErrIO,
	syscall.ENXIO:        nfs3ErrNXIO,
	syscall.EACCES:       nfs3ErrAcces,
	syscall.EEXIST:       nfs3ErrExist,
	syscall.EXDEV:        nfs3ErrXDev,
	syscall.ENODEV:       nfs3ErrNoDev,
	syscall.ENOTDIR:      nfs3ErrNotDir,
	syscall.EISDIR:       nfs3ErrIsDir,
	syscall.EINVAL:       nfs3ErrInval,
	syscall.EFBIG:        nfs3ErrFBig,
	syscall.ENOSPC:       nfs3ErrNoSpc,
	syscall.EROFS:        nfs3ErrROFS,
	syscall.EMLINK:       nfs3ErrMLink,
	syscall.ENAMETOOLONG: nfs3ErrNameTooLong,
	syscall.ENOTEMPTY:    nfs3ErrNotEmpty,
	syscall.EDQUOT:       nfs3ErrDQuot,
	syscall.ESTALE:       nfs3ErrStale,
	syscall.ENOTSUP:      nfs3ErrNotSupp,
	syscall.ENOSYS:       nfs3ErrNotSupp,
	syscall.ETIMEDOUT:    nfs3ErrJukebox,
	syscall.EAGAIN:       nfs3ErrJukebox,
	syscall.ELOOP:        nfs3ErrInval, // NFSv3 has no ELOOP
}

// status is the NFSv3 status of a cache error. A backend that did not
// answer within OpTimeout is JUKEBOX (the client retries later); an error
// that carries no errno is SERVERFAULT, not IO: IO means the disk failed.
func status(err error) uint32 {
	if err == nil {
		return nfs3OK
	}
	var en syscall.Errno
	if errors.As(err, &en) {
		if st, ok := errnoStatus[en]; ok {
			return st
		}
		return nfs3ErrServerFault
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return nfs3ErrJukebox
	case errors.Is(err, fs.ErrNotExist):
		return nfs3ErrNoEnt
	case errors.Is(err, fs.ErrPermission):
		return nfs3ErrAcces
	}
	// The cache promises errors.Is(err, syscall.EXXX), which an error may
	// keep without wrapping a syscall.Errno (an Is method of its own).
	for _, en := range errnoOrder {
		if errors.Is(err, en) {
			return errnoStatus[en]
		}
	}
	return nfs3ErrServerFault
}

// errnoOrder is errnoStatus's errnos by number, so an error that is
// several of them maps the same way every time.
var errnoOrder = slices.Sorted(maps.Keys(errnoStatus))
