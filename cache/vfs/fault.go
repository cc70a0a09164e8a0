package vfs

import (
	"io/fs"
	"os"
	"sync"
)

// OpKind names an operation of an FS or a File.
type OpKind int

const (
	OpOpen OpKind = iota
	OpMkdir
	OpLink
	OpRemove
	OpStat
	OpTruncate
	OpReadDir
	OpRead
	OpWrite
	OpSync
	OpClose
)

var opNames = [...]string{"open", "mkdir", "link", "remove", "stat", "truncate", "readdir", "read", "write", "sync", "close"}

func (k OpKind) String() string { return opNames[k] }

// Op is one operation about to run on an Inject file system.
type Op struct {
	Kind OpKind
	// Path is the file operated on (for OpLink, the new name); Flag
	// is OpenFile's flags.
	Path string
	Flag int
	// Off and Len are the range of a read or write, Len the size of a
	// truncate.
	Off int64
	Len int64
}

// Changes reports whether op changes the file system: what a full disk
// refuses and a power cut cuts short.
func (op Op) Changes() bool {
	switch op.Kind {
	case OpMkdir, OpLink, OpRemove, OpTruncate, OpWrite, OpSync:
		return true
	case OpOpen:
		return op.Flag&(os.O_CREATE|os.O_TRUNC) != 0
	}
	return false
}

// An Injector decides the fate of each operation: a non-nil error
// fails it without running it. It runs before the operation, so it may
// also act there (take a CrashClone). It is called concurrently.
type Injector interface {
	Inject(op Op) error
}

// InjectorFunc is a function as an Injector.
type InjectorFunc func(op Op) error

func (f InjectorFunc) Inject(op Op) error { return f(op) }

// Nth fails the nth operation (counting from 1) for which match
// returns true, and no other, with err.
func Nth(n int, match func(Op) bool, err error) Injector {
	var mu sync.Mutex
	seen := 0
	return InjectorFunc(func(op Op) error {
		if !match(op) {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		seen++
		if seen == n {
			return err
		}
		return nil
	})
}

// Match fails every operation for which match returns true with err.
func Match(match func(Op) bool, err error) Injector {
	return InjectorFunc(func(op Op) error {
		if match(op) {
			return err
		}
		return nil
	})
}

// Inject returns fsys with every operation first put to inj. An error
// from inj comes back wrapped as the operating system's would be
// (*fs.PathError, *os.LinkError), so errors.Is works on it alike.
func Inject(fsys FS, inj Injector) FS {
	return &faultFS{fs: fsys, inj: inj}
}

type faultFS struct {
	fs  FS
	inj Injector
}

func (f *faultFS) check(op Op) error {
	if err := f.inj.Inject(op); err != nil {
		return pathErr(op.Kind.String(), op.Path, err)
	}
	return nil
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	if err := f.check(Op{Kind: OpOpen, Path: name, Flag: flag}); err != nil {
		return nil, err
	}
	file, err := f.fs.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: f, f: file, name: name}, nil
}

func (f *faultFS) Mkdir(name string, perm fs.FileMode) error {
	if err := f.check(Op{Kind: OpMkdir, Path: name}); err != nil {
		return err
	}
	return f.fs.Mkdir(name, perm)
}

func (f *faultFS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.check(Op{Kind: OpMkdir, Path: name}); err != nil {
		return err
	}
	return f.fs.MkdirAll(name, perm)
}

func (f *faultFS) Link(oldname, newname string) error {
	if err := f.inj.Inject(Op{Kind: OpLink, Path: newname}); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	return f.fs.Link(oldname, newname)
}

func (f *faultFS) Remove(name string) error {
	if err := f.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return f.fs.Remove(name)
}

func (f *faultFS) RemoveAll(name string) error {
	if err := f.check(Op{Kind: OpRemove, Path: name}); err != nil {
		return err
	}
	return f.fs.RemoveAll(name)
}

func (f *faultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.check(Op{Kind: OpStat, Path: name}); err != nil {
		return nil, err
	}
	return f.fs.Stat(name)
}

func (f *faultFS) Truncate(name string, size int64) error {
	if err := f.check(Op{Kind: OpTruncate, Path: name, Len: size}); err != nil {
		return err
	}
	return f.fs.Truncate(name, size)
}

func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.check(Op{Kind: OpReadDir, Path: name}); err != nil {
		return nil, err
	}
	return f.fs.ReadDir(name)
}

var (
	_ SpareFS = (*faultFS)(nil)
	_ File    = (*faultFile)(nil)
)

// CreateSpare makes the spare in the wrapped file system, so that a
// placed spare is put to the injector under the name it was placed at.
func (f *faultFS) CreateSpare(name string, perm fs.FileMode) (Spare, error) {
	if err := f.check(Op{Kind: OpOpen, Path: name, Flag: os.O_RDWR | os.O_CREATE | os.O_EXCL}); err != nil {
		return nil, err
	}
	s, err := CreateSpare(f.fs, name, perm)
	if err != nil {
		return nil, err
	}
	return &faultSpare{fs: f, s: s, path: name}, nil
}

type faultSpare struct {
	fs   *faultFS
	s    Spare
	path string
}

func (s *faultSpare) Place(name string) (File, error) {
	if err := s.fs.inj.Inject(Op{Kind: OpLink, Path: name}); err != nil {
		return nil, &os.LinkError{Op: "link", Old: s.path, New: name, Err: err}
	}
	f, err := s.s.Place(name)
	if err != nil {
		return nil, err
	}
	return &faultFile{fs: s.fs, f: f, name: name}, nil
}

func (s *faultSpare) Close() error {
	err := s.fs.check(Op{Kind: OpClose, Path: s.path})
	if cerr := s.s.Close(); err == nil {
		err = cerr
	}
	return err
}

// faultFile is a File of a faultFS.
type faultFile struct {
	fs   *faultFS
	f    File
	name string
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(Op{Kind: OpRead, Path: f.name, Off: off, Len: int64(len(p))}); err != nil {
		return 0, err
	}
	return f.f.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.check(Op{Kind: OpWrite, Path: f.name, Off: off, Len: int64(len(p))}); err != nil {
		return 0, err
	}
	return f.f.WriteAt(p, off)
}

func (f *faultFile) Truncate(size int64) error {
	if err := f.fs.check(Op{Kind: OpTruncate, Path: f.name, Len: size}); err != nil {
		return err
	}
	return f.f.Truncate(size)
}

func (f *faultFile) Stat() (fs.FileInfo, error) {
	if err := f.fs.check(Op{Kind: OpStat, Path: f.name}); err != nil {
		return nil, err
	}
	return f.f.Stat()
}

func (f *faultFile) Sync() error {
	if err := f.fs.check(Op{Kind: OpSync, Path: f.name}); err != nil {
		return err
	}
	return f.f.Sync()
}

// Close always closes the file, as close(2) releases the descriptor
// even when it reports an error.
func (f *faultFile) Close() error {
	err := f.fs.check(Op{Kind: OpClose, Path: f.name})
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	return err
}
