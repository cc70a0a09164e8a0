package vfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
)

// FS is what the cache does to its data files' folders. Paths are
// absolute, as the os package takes them. Errors are *fs.PathError or
// *os.LinkError around a syscall.Errno, so errors.Is(err,
// fs.ErrNotExist) and errors.Is(err, syscall.ENOSPC) work as with os.
type FS interface {
	// OpenFile opens name as os.OpenFile does, with the flags
	// O_RDONLY, O_RDWR, O_WRONLY, O_CREATE, O_EXCL and O_TRUNC. A
	// folder opens for reading only; its File's Sync makes the
	// folder's entries durable.
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	Mkdir(name string, perm fs.FileMode) error
	MkdirAll(name string, perm fs.FileMode) error
	// Link gives the file oldname the second name newname, which must
	// not exist.
	Link(oldname, newname string) error
	Remove(name string) error
	RemoveAll(name string) error
	Stat(name string) (fs.FileInfo, error)
	Truncate(name string, size int64) error
	// ReadDir returns the entries of a folder sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
}

// File is an open file. It is safe for concurrent use, as *os.File is.
type File interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	// Sync makes the file's data and size durable; for a folder, its
	// entries.
	Sync() error
	Close() error
}

// SyncDir makes the entries of the folder dir durable.
func SyncDir(fsys FS, dir string) error {
	d, err := fsys.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// A Spare is an empty file made ahead of need, open, and placed later
// under the name of a new file by a link. A file system implements
// SpareFS when its files can take the name of that link, so that their
// errors name the file rather than the spare; CreateSpare falls back to
// OpenFile and Link elsewhere.
type Spare interface {
	// Place links the spare to name, which must not exist, and
	// returns it open. The spare's own name stays. On failure the
	// spare stays open: Close it.
	Place(name string) (File, error)
	// Close closes a spare not placed.
	Close() error
}

// SpareFS is an FS that makes spares itself.
type SpareFS interface {
	FS
	CreateSpare(name string, perm fs.FileMode) (Spare, error)
}

// CreateSpare makes an empty file at name, which must not exist, and
// returns it as a Spare.
func CreateSpare(fsys FS, name string, perm fs.FileMode) (Spare, error) {
	if s, ok := fsys.(SpareFS); ok {
		return s.CreateSpare(name, perm)
	}
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return nil, err
	}
	return &fileSpare{fsys: fsys, path: name, f: f}, nil
}

// fileSpare is a Spare of any FS: a file opened under its spare name.
type fileSpare struct {
	fsys FS
	path string
	f    File
}

func (s *fileSpare) Place(name string) (File, error) {
	if err := s.fsys.Link(s.path, name); err != nil {
		return nil, err
	}
	return s.f, nil
}

func (s *fileSpare) Close() error { return s.f.Close() }
