package cache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// fileTable keeps local data files open between calls, because go-nfs
// opens and closes a file on every READ and WRITE and an open(2) per RPC
// would dominate small I/O. Files in use are never closed; idle ones are
// closed once more than max are open.
type fileTable struct {
	dir string
	max int

	mu    sync.Mutex
	files map[Ino]*openFile
	// pins counts operations using an inode's data; evicting marks the
	// inodes being evicted. An inode is never both: pin waits.
	pins     map[Ino]int
	evicting map[Ino]bool
	changed  *sync.Cond
}

type openFile struct {
	f    *os.File
	refs int
	// doomed: the inode was removed while the file was in use; close
	// it when the last user releases it.
	doomed bool
}

func newFileTable(dir string, max int) *fileTable {
	ft := &fileTable{dir: dir, max: max, files: map[Ino]*openFile{}, pins: map[Ino]int{}, evicting: map[Ino]bool{}}
	ft.changed = sync.NewCond(&ft.mu)
	return ft
}

// pin keeps ino's data from being evicted until unpin.
func (ft *fileTable) pin(ino Ino) {
	ft.mu.Lock()
	for ft.evicting[ino] {
		ft.changed.Wait()
	}
	ft.pins[ino]++
	ft.mu.Unlock()
}

func (ft *fileTable) unpin(ino Ino) {
	ft.mu.Lock()
	if ft.pins[ino]--; ft.pins[ino] <= 0 {
		delete(ft.pins, ino)
	}
	ft.mu.Unlock()
}

// beginEvict reports whether ino may be evicted now; if so, pins wait
// until endEvict.
func (ft *fileTable) beginEvict(ino Ino) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if ft.pins[ino] > 0 || ft.evicting[ino] {
		return false
	}
	if of, ok := ft.files[ino]; ok && of.refs > 0 {
		return false
	}
	ft.evicting[ino] = true
	return true
}

func (ft *fileTable) endEvict(ino Ino) {
	ft.mu.Lock()
	delete(ft.evicting, ino)
	ft.changed.Broadcast()
	ft.mu.Unlock()
}

// path spreads data files over 256 folders so none grows huge.
func (ft *fileTable) path(ino Ino) string {
	return filepath.Join(ft.dir, fmt.Sprintf("%02x", uint64(ino)&0xff), fmt.Sprintf("%016x", uint64(ino)))
}

// acquire returns the open data file of ino, creating it when create is
// set. The caller must call release.
func (ft *fileTable) acquire(ino Ino, create bool) (*openFile, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if of, ok := ft.files[ino]; ok {
		of.refs++
		return of, nil
	}
	p := ft.path(ino)
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) && create {
		f, err = ft.createLocked(p)
	}
	if err != nil {
		return nil, err
	}
	of := &openFile{f: f, refs: 1}
	ft.files[ino] = of
	ft.trimLocked()
	return of, nil
}

func (ft *fileTable) release(of *openFile) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	of.refs--
	if of.refs == 0 && of.doomed {
		of.f.Close()
		return
	}
	ft.trimLocked()
}

func (ft *fileTable) trimLocked() {
	for ino, of := range ft.files {
		if len(ft.files) <= ft.max {
			return
		}
		if of.refs == 0 {
			of.f.Close()
			delete(ft.files, ino)
		}
	}
}

// remove deletes ino's data file. A reader still using it keeps its
// descriptor until release.
func (ft *fileTable) remove(ino Ino) error {
	ft.mu.Lock()
	if of, ok := ft.files[ino]; ok {
		if of.refs == 0 {
			of.f.Close()
			delete(ft.files, ino)
		} else {
			of.doomed = true
			delete(ft.files, ino)
		}
	}
	ft.mu.Unlock()
	err := os.Remove(ft.path(ino))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func (ft *fileTable) closeAll() error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var first error
	for ino, of := range ft.files {
		if err := of.f.Close(); err != nil && first == nil {
			first = err
		}
		delete(ft.files, ino)
	}
	return first
}

func (ft *fileTable) dirOf(ino Ino) string { return filepath.Dir(ft.path(ino)) }

// createLocked makes a new data file and syncs the folders naming it, so
// a later fsync of the file alone makes its data durable.
func (ft *fileTable) createLocked(p string) (*os.File, error) {
	dir := filepath.Dir(p)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if err := syncDir(ft.dir); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// syncDir makes the entries of a folder durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
