package nfsd

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// multiErr satisfies several errnos through Is, as a cache error may.
type multiErr struct{}

func (multiErr) Error() string { return "stale" }
func (multiErr) Is(target error) bool {
	return target == syscall.ESTALE || target == syscall.ENOENT
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want uint32
	}{
		{"nil", nil, nfs3OK},
		{"enoent", fmt.Errorf("cache: lookup x: %w", syscall.ENOENT), nfs3ErrNoEnt},
		{"estale", fmt.Errorf("cache: getattr: %w", syscall.ESTALE), nfs3ErrStale},
		{"eperm", syscall.EPERM, nfs3ErrPerm},
		{"eacces", fmt.Errorf("x: %w", syscall.EACCES), nfs3ErrAcces},
		{"eexist", fmt.Errorf("x: %w", syscall.EEXIST), nfs3ErrExist},
		{"enotempty", fmt.Errorf("x: %w", syscall.ENOTEMPTY), nfs3ErrNotEmpty},
		{"enospc", fmt.Errorf("x: %w", syscall.ENOSPC), nfs3ErrNoSpc},
		{"edquot", syscall.EDQUOT, nfs3ErrDQuot},
		{"enametoolong", syscall.ENAMETOOLONG, nfs3ErrNameTooLong},
		{"eio", fmt.Errorf("x: %w", syscall.EIO), nfs3ErrIO},
		{"eloop", syscall.ELOOP, nfs3ErrInval},
		{"path error", &fs.PathError{Op: "open", Path: "p", Err: syscall.EISDIR}, nfs3ErrIsDir},
		{"joined", errors.Join(errors.New("first"), syscall.EROFS), nfs3ErrROFS},
		{"unknown errno", syscall.EOWNERDEAD, nfs3ErrServerFault},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), nfs3ErrJukebox},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), nfs3ErrJukebox},
		{"etimedout", syscall.ETIMEDOUT, nfs3ErrJukebox},
		{"fs.ErrNotExist", fmt.Errorf("x: %w", fs.ErrNotExist), nfs3ErrNoEnt},
		{"fs.ErrPermission", fs.ErrPermission, nfs3ErrAcces},
		{"custom Is", multiErr{}, nfs3ErrNoEnt},
		{"no errno", errors.New("boom"), nfs3ErrServerFault},
	} {
		if got := status(tc.err); got != tc.want {
			t.Errorf("%s: status(%v) = %d, want %d", tc.name, tc.err, got, tc.want)
		}
	}
}
