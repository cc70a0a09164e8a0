//go:build unix

package vfs

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

var _ SpareFS = osFS{}

// CreateSpare keeps the spare as a raw descriptor, so that the *os.File
// made when it is placed carries the name it is placed under into error
// messages.
func (osFS) CreateSpare(name string, perm fs.FileMode) (Spare, error) {
	for {
		fd, err := unix.Open(name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, uint32(perm.Perm()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "create", Path: name, Err: err}
		}
		return &osSpare{path: name, fd: fd}, nil
	}
}

type osSpare struct {
	path string
	fd   int
}

func (s *osSpare) Place(name string) (File, error) {
	if err := os.Link(s.path, name); err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(s.fd), name), nil
}

func (s *osSpare) Close() error { return unix.Close(s.fd) }
