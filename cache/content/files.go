package content

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
)

// Ino is an inode number (see ns.Ino).
type Ino = ns.Ino

// Files keeps local data files open between calls, because NFS is
// stateless (no open or close reaches the server) and an open(2) per
// READ or WRITE would dominate small I/O. Files in use are never closed;
// idle ones are closed once more than max are open. New data files are
// spares linked into place when one is ready (spares.go); the spares'
// descriptors, at most SpareTarget, are not counted in max.
type Files struct {
	fs     vfs.FS
	dir    string
	max    int
	spares *sparePool

	mu    sync.Mutex
	files map[Ino]*Open
	// pins counts operations using an inode's data; evicting marks the
	// inodes being evicted. An inode is never both: Pin waits.
	pins     map[Ino]int
	evicting map[Ino]bool
	changed  *sync.Cond
	// fresh holds inodes whose data file was created since its folder
	// was last synced: their name is not durable yet, so Sync syncs the
	// folder too. Creating a file costs no folder fsync of its own: the
	// one sync that makes its data durable makes its name durable.
	fresh map[Ino]bool

	// dataMu is striped by inode: see DataLock.
	dataMu [64]sync.Mutex
}

// Open is a data file held open by Files, from Acquire until Release.
type Open struct {
	// File is the data file; it stays open until Release.
	File vfs.File
	refs int
	// doomed: the inode was removed while the file was in use; close
	// it when the last user releases it.
	doomed bool
}

// NewFiles returns the table of the data files in dir, keeping at most
// max idle ones open. MakeDirs makes its folders.
func NewFiles(fsys vfs.FS, dir string, max int) *Files {
	ft := &Files{fs: fsys, dir: dir, max: max, spares: newSparePool(fsys, filepath.Join(dir, SpareDirName), SpareTarget),
		files: map[Ino]*Open{}, pins: map[Ino]int{}, evicting: map[Ino]bool{}, fresh: map[Ino]bool{}}
	ft.changed = sync.NewCond(&ft.mu)
	return ft
}

// Pin keeps ino's data from being evicted until Unpin.
func (ft *Files) Pin(ino Ino) {
	ft.mu.Lock()
	for ft.evicting[ino] {
		ft.changed.Wait()
	}
	ft.pins[ino]++
	ft.mu.Unlock()
}

// Unpin ends a Pin.
func (ft *Files) Unpin(ino Ino) {
	ft.mu.Lock()
	if ft.pins[ino]--; ft.pins[ino] <= 0 {
		delete(ft.pins, ino)
	}
	ft.mu.Unlock()
}

// BeginEvict reports whether ino may be evicted now; if so, pins wait
// until EndEvict.
func (ft *Files) BeginEvict(ino Ino) bool {
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

// EndEvict ends an eviction begun by BeginEvict.
func (ft *Files) EndEvict(ino Ino) {
	ft.mu.Lock()
	delete(ft.evicting, ino)
	ft.changed.Broadcast()
	ft.mu.Unlock()
}

// DataLock is the lock of ino's data file contents: the writes of
// fetches, client writes, truncates and the drops of stale content
// exclude each other under it, so a check of the namespace and the write
// it allows are one step (a late fetch never overwrites newer data). It
// is striped: inodes may share one.
func (ft *Files) DataLock(ino Ino) *sync.Mutex {
	return &ft.dataMu[uint64(ino)%uint64(len(ft.dataMu))]
}

// Path spreads data files over 256 folders so none grows huge.
func (ft *Files) Path(ino Ino) string {
	return filepath.Join(ft.dir, fmt.Sprintf("%02x", uint64(ino)&0xff), fmt.Sprintf("%016x", uint64(ino)))
}

// Acquire returns the open data file of ino, creating it when create is
// set. The caller must call Release.
func (ft *Files) Acquire(ino Ino, create bool) (*Open, error) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	if of, ok := ft.files[ino]; ok {
		of.refs++
		return of, nil
	}
	p := ft.Path(ino)
	f, err := ft.fs.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) && create {
		if f, err = ft.createLocked(p); err == nil {
			ft.fresh[ino] = true
		}
	}
	if err != nil {
		return nil, err
	}
	of := &Open{File: f, refs: 1}
	ft.files[ino] = of
	ft.trimLocked()
	return of, nil
}

// Release ends a use of the open file begun by Acquire.
func (ft *Files) Release(of *Open) {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	of.refs--
	if of.refs == 0 && of.doomed {
		of.File.Close()
		return
	}
	ft.trimLocked()
}

func (ft *Files) trimLocked() {
	for ino, of := range ft.files {
		if len(ft.files) <= ft.max {
			return
		}
		if of.refs == 0 {
			of.File.Close()
			delete(ft.files, ino)
		}
	}
}

// Remove deletes ino's data file. A reader still using it keeps its
// descriptor until Release. The file goes under the lock: an Acquire
// between forgetting the open file and unlinking it would open the old
// file again and keep it open, so data written later through it would
// vanish with it.
func (ft *Files) Remove(ino Ino) error {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	delete(ft.fresh, ino)
	if of, ok := ft.files[ino]; ok {
		if of.refs == 0 {
			of.File.Close()
			delete(ft.files, ino)
		} else {
			of.doomed = true
			delete(ft.files, ino)
		}
	}
	err := ft.fs.Remove(ft.Path(ino))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Close closes every data file and stops the spares' refiller.
func (ft *Files) Close() error {
	ft.spares.close()
	ft.mu.Lock()
	defer ft.mu.Unlock()
	var first error
	for ino, of := range ft.files {
		if err := of.File.Close(); err != nil && first == nil {
			first = err
		}
		delete(ft.files, ino)
	}
	return first
}

func (ft *Files) dirOf(ino Ino) string { return filepath.Dir(ft.Path(ino)) }

// createLocked makes a new data file: a spare linked to p when one is
// ready, else a file created there. Either way its name is durable only
// after a sync of its folder (see fresh): a link adds an entry to the
// folder just as a create does. The folder itself, made at start (see
// MakeDirs), is made and synced here only if it went missing.
func (ft *Files) createLocked(p string) (vfs.File, error) {
	if f := ft.spares.place(p); f != nil {
		return f, nil
	}
	f, err := ft.fs.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if !errors.Is(err, os.ErrNotExist) {
		return f, err
	}
	dir := filepath.Dir(p)
	if err := ft.fs.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	if err := vfs.SyncDir(ft.fs, ft.dir); err != nil {
		return nil, err
	}
	return ft.fs.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
}

// MakeDirs makes the 256 folders of data files, so that no create pays
// for a folder of its own, and the folder of spares.
func (ft *Files) MakeDirs() error {
	made := false
	for i := range 257 {
		name := fmt.Sprintf("%02x", i)
		if i == 256 {
			name = SpareDirName
		}
		err := ft.fs.Mkdir(filepath.Join(ft.dir, name), 0o700)
		if err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		made = made || err == nil
	}
	if !made {
		return nil
	}
	if err := vfs.SyncDir(ft.fs, ft.dir); err != nil {
		return err
	}
	// On a first start the data folder itself is new: without this a
	// power cut could lose it while the namespace, which syncs its own
	// folder, survives and points at files in it.
	return vfs.SyncDir(ft.fs, filepath.Dir(ft.dir))
}

// Sync makes ino's data file durable, with its name when it is fresh.
// A missing file is no error: nothing was written, or the inode is gone.
func (ft *Files) Sync(ino Ino) error {
	of, err := ft.Acquire(ino, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer ft.Release(of)
	return ft.SyncOpen(ino, of)
}

// SyncOpen is Sync of a file the caller holds.
func (ft *Files) SyncOpen(ino Ino, of *Open) error {
	if err := of.File.Sync(); err != nil {
		return err
	}
	ft.mu.Lock()
	fresh := ft.fresh[ino]
	ft.mu.Unlock()
	if !fresh {
		return nil
	}
	if err := vfs.SyncDir(ft.fs, ft.dirOf(ino)); err != nil {
		return err
	}
	ft.mu.Lock()
	delete(ft.fresh, ino)
	ft.mu.Unlock()
	return nil
}

// SyncMany is Sync of each of inos, with one sync per folder for the
// fresh ones. It returns the inodes whose data files are durable now
// (missing files included). syncfs(2) would sync them all at once, but
// with everything else dirty on that filesystem (the embedded backend's
// uploads, other servers' files), which may take long and is no
// business of ours.
func (ft *Files) SyncMany(inos []Ino) ([]Ino, error) {
	synced := make([]Ino, 0, len(inos))
	dirs := map[string][]Ino{}
	var first error
	for _, ino := range inos {
		of, err := ft.Acquire(ino, false)
		if errors.Is(err, os.ErrNotExist) {
			synced = append(synced, ino)
			continue
		}
		if err == nil {
			err = of.File.Sync()
			ft.Release(of)
		}
		if err != nil {
			first = firstErr(first, err)
			continue
		}
		ft.mu.Lock()
		fresh := ft.fresh[ino]
		ft.mu.Unlock()
		if fresh {
			dirs[ft.dirOf(ino)] = append(dirs[ft.dirOf(ino)], ino)
		} else {
			synced = append(synced, ino)
		}
	}
	for dir, in := range dirs {
		if err := vfs.SyncDir(ft.fs, dir); err != nil {
			first = firstErr(first, err)
			continue
		}
		ft.mu.Lock()
		for _, ino := range in {
			delete(ft.fresh, ino)
		}
		ft.mu.Unlock()
		synced = append(synced, in...)
	}
	return synced, first
}

// Open opens ino's data file on a descriptor of its own, for a reader
// that holds it long (an upload): the table's descriptors stay for
// quick calls. The caller closes it.
func (ft *Files) Open(ino Ino) (vfs.File, error) {
	return ft.fs.OpenFile(ft.Path(ino), os.O_RDWR, 0)
}

// Size returns the size of ino's data file; fs.ErrNotExist when it
// has none.
func (ft *Files) Size(ino Ino) (int64, error) {
	st, err := ft.fs.Stat(ft.Path(ino))
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// ReadHead reads the first size bytes of ino's data file under its data
// lock, fewer when the file is shorter (the rest reads as zeros), none
// when it has no data file.
func (ft *Files) ReadHead(ino Ino, size int64) ([]byte, error) {
	of, err := ft.Acquire(ino, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer ft.Release(of)
	mu := ft.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	buf := make([]byte, size)
	got, err := of.File.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:got], err
}

// Trim cuts ino's data file to size bytes, at start, where a crash left
// it longer than the size the namespace recorded.
func (ft *Files) Trim(ino Ino, size int64) error { return ft.fs.Truncate(ft.Path(ino), size) }

// Fresh reports whether ino's data file was made since its folder was
// last synced, so its name is not durable yet.
func (ft *Files) Fresh(ino Ino) bool {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	return ft.fresh[ino]
}

// RemoveOrphans deletes the data files of inodes not in owned (those
// holding no local content) and unfinished downloads, and returns how
// many it removed. It leaves the spare folder alone: spares are no
// inode's data. It runs at start, before any other use of ft.
func (ft *Files) RemoveOrphans(owned map[Ino]bool) (int, error) {
	dirs, err := ft.fs.ReadDir(ft.dir)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", ft.dir, err)
	}
	removed := 0
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == SpareDirName {
			continue
		}
		sub := filepath.Join(ft.dir, d.Name())
		ents, err := ft.fs.ReadDir(sub)
		if err != nil {
			return removed, fmt.Errorf("read %s: %w", sub, err)
		}
		for _, e := range ents {
			ino, perr := strconv.ParseUint(e.Name(), 16, 64)
			if perr == nil && owned[Ino(ino)] && !strings.Contains(e.Name(), ".") {
				continue
			}
			if err := ft.fs.Remove(filepath.Join(sub, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return removed, fmt.Errorf("remove orphan: %w", err)
			}
			removed++
		}
	}
	return removed, nil
}

// firstErr returns first, or err when first is nil.
func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
