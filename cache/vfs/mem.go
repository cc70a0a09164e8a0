package vfs

import (
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Mem is an in-memory file system that knows what is durable, as a
// disk that honours fsync does: a file's data and size are durable as
// of its last Sync, and a name (a file's or a folder's entry in its
// folder) as of the last Sync of that folder. CrashClone returns what a
// power cut would leave. Paths are cleaned and absolute; there are no
// symbolic links, owners or permission checks.
type Mem struct {
	mu   sync.Mutex
	root *memNode
	// capacity bounds the bytes of live files (0: no bound); used
	// counts them, a file's bytes freed when it has no name and no
	// open File left.
	capacity, used int64
}

var (
	_ FS   = (*Mem)(nil)
	_ File = (*memFile)(nil)
)

// memNode is a file or a folder.
type memNode struct {
	mode  fs.FileMode
	mtime time.Time
	// A file's data, and the data as of its last Sync.
	data, durable []byte
	// links counts the file's names, opens its open Files.
	links, opens int
	// A folder's entries, and the entries as of its last Sync.
	ents, durableEnts map[string]*memNode
}

func (n *memNode) isDir() bool { return n.mode.IsDir() }

// NewMem returns an empty Mem whose root folder is durable.
func NewMem() *Mem {
	return &Mem{root: newDir(0o755)}
}

func newDir(perm fs.FileMode) *memNode {
	return &memNode{mode: fs.ModeDir | perm.Perm(), mtime: time.Now(),
		ents: map[string]*memNode{}, durableEnts: map[string]*memNode{}}
}

// SetCapacity bounds the bytes of file data m holds: a write or
// truncate past it fails with ENOSPC and changes nothing, as on a full
// disk. 0 removes the bound.
func (m *Mem) SetCapacity(bytes int64) {
	m.mu.Lock()
	m.capacity = bytes
	m.mu.Unlock()
}

// Used returns the bytes of file data m holds.
func (m *Mem) Used() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.used
}

// CrashClone returns the file system a power cut would leave of m now:
// the folders and names reachable through durable entries from the
// root, each file with its durable data. It has the same capacity.
func (m *Mem) CrashClone() *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &Mem{capacity: m.capacity}
	seen := map[*memNode]*memNode{}
	var clone func(n *memNode) *memNode
	clone = func(n *memNode) *memNode {
		if d, ok := seen[n]; ok {
			d.links++
			return d
		}
		d := &memNode{mode: n.mode, mtime: n.mtime, links: 1}
		seen[n] = d
		if n.isDir() {
			d.ents = make(map[string]*memNode, len(n.durableEnts))
			for name, e := range n.durableEnts {
				d.ents[name] = clone(e)
			}
			d.durableEnts = copyEnts(d.ents)
			return d
		}
		d.data = slices.Clone(n.durable)
		d.durable = slices.Clone(n.durable)
		c.used += int64(len(d.data))
		return d
	}
	c.root = clone(m.root)
	return c
}

func copyEnts(m map[string]*memNode) map[string]*memNode { return maps.Clone(m) }

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// split cleans name into its folder and base; the root has no base.
func split(name string) (dir, base string) {
	name = path.Clean("/" + name)
	if name == "/" {
		return "/", ""
	}
	return path.Dir(name), path.Base(name)
}

// walkLocked returns the node at name.
func (m *Mem) walkLocked(name string) (*memNode, error) {
	n := m.root
	for part := range strings.SplitSeq(strings.Trim(path.Clean("/"+name), "/"), "/") {
		if part == "" {
			continue
		}
		if !n.isDir() {
			return nil, syscall.ENOTDIR
		}
		next, ok := n.ents[part]
		if !ok {
			return nil, syscall.ENOENT
		}
		n = next
	}
	return n, nil
}

// parentLocked returns the folder that holds (or would hold) name, and
// name's base.
func (m *Mem) parentLocked(name string) (*memNode, string, error) {
	dir, base := split(name)
	if base == "" {
		return nil, "", syscall.EEXIST // the root
	}
	d, err := m.walkLocked(dir)
	if err != nil {
		return nil, "", err
	}
	if !d.isDir() {
		return nil, "", syscall.ENOTDIR
	}
	return d, base, nil
}

// growLocked accounts for a file growing by delta bytes (shrinking
// when negative), or fails with ENOSPC.
func (m *Mem) growLocked(delta int64) error {
	if delta > 0 && m.capacity > 0 && m.used+delta > m.capacity {
		return syscall.ENOSPC
	}
	m.used += delta
	return nil
}

// dropLocked frees a file with no name and no open File left.
func (m *Mem) dropLocked(n *memNode) {
	if !n.isDir() && n.links == 0 && n.opens == 0 {
		m.used -= int64(len(n.data))
		n.data = nil
	}
}

func (m *Mem) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	writable := flag&(os.O_WRONLY|os.O_RDWR) != 0
	n, err := m.walkLocked(name)
	switch {
	case err == syscall.ENOENT && flag&os.O_CREATE != 0:
		d, base, perr := m.parentLocked(name)
		if perr != nil {
			return nil, pathErr("open", name, perr)
		}
		n = &memNode{mode: perm.Perm(), mtime: time.Now(), links: 1}
		d.ents[base] = n
		d.mtime = n.mtime
	case err != nil:
		return nil, pathErr("open", name, err)
	case flag&(os.O_CREATE|os.O_EXCL) == os.O_CREATE|os.O_EXCL:
		return nil, pathErr("open", name, syscall.EEXIST)
	case n.isDir() && (writable || flag&os.O_TRUNC != 0):
		return nil, pathErr("open", name, syscall.EISDIR)
	case flag&os.O_TRUNC != 0 && writable:
		m.growLocked(-int64(len(n.data)))
		n.data = nil
		n.mtime = time.Now()
	}
	n.opens++
	return &memFile{m: m, n: n, name: name, writable: writable}, nil
}

func (m *Mem) Mkdir(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mkdirLocked(name, perm)
}

func (m *Mem) mkdirLocked(name string, perm fs.FileMode) error {
	d, base, err := m.parentLocked(name)
	if err != nil {
		return pathErr("mkdir", name, err)
	}
	if _, ok := d.ents[base]; ok {
		return pathErr("mkdir", name, syscall.EEXIST)
	}
	n := newDir(perm)
	n.links = 1
	d.ents[base] = n
	d.mtime = n.mtime
	return nil
}

func (m *Mem) MkdirAll(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	name = path.Clean("/" + name)
	for i := 1; i <= len(name); i++ {
		if i < len(name) && name[i] != '/' {
			continue
		}
		n, err := m.walkLocked(name[:i])
		if err == nil && n.isDir() {
			continue
		}
		if err == nil {
			return pathErr("mkdir", name[:i], syscall.ENOTDIR)
		}
		if err := m.mkdirLocked(name[:i], perm); err != nil {
			return err
		}
	}
	return nil
}

func (m *Mem) Link(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(oldname)
	if err == nil && n.isDir() {
		err = syscall.EPERM
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	d, base, err := m.parentLocked(newname)
	if err == nil {
		if _, ok := d.ents[base]; ok {
			err = syscall.EEXIST
		}
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	d.ents[base] = n
	d.mtime = time.Now()
	n.links++
	return nil
}

func (m *Mem) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parentLocked(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	n, ok := d.ents[base]
	switch {
	case !ok:
		return pathErr("remove", name, syscall.ENOENT)
	case n.isDir() && len(n.ents) > 0:
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(d.ents, base)
	d.mtime = time.Now()
	n.links--
	m.dropLocked(n)
	return nil
}

func (m *Mem) RemoveAll(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, base, err := m.parentLocked(name)
	if err == syscall.ENOENT {
		return nil
	}
	if err != nil {
		return pathErr("removeall", name, err)
	}
	n, ok := d.ents[base]
	if !ok {
		return nil
	}
	delete(d.ents, base)
	d.mtime = time.Now()
	var unlink func(n *memNode)
	unlink = func(n *memNode) {
		n.links--
		for _, e := range n.ents {
			unlink(e)
		}
		if n.isDir() {
			clear(n.ents)
		}
		m.dropLocked(n)
	}
	unlink(n)
	return nil
}

func (m *Mem) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(name)
	if err != nil {
		return nil, pathErr("stat", name, err)
	}
	_, base := split(name)
	return n.infoLocked(base), nil
}

func (m *Mem) Truncate(name string, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(name)
	if err == nil {
		err = m.truncateLocked(n, size)
	}
	if err != nil {
		return pathErr("truncate", name, err)
	}
	return nil
}

func (m *Mem) truncateLocked(n *memNode, size int64) error {
	switch {
	case n.isDir():
		return syscall.EISDIR
	case size < 0:
		return syscall.EINVAL
	}
	if err := m.growLocked(size - int64(len(n.data))); err != nil {
		return err
	}
	if size <= int64(len(n.data)) {
		n.data = n.data[:size:size]
	} else {
		n.data = append(n.data, make([]byte, size-int64(len(n.data)))...)
	}
	n.mtime = time.Now()
	return nil
}

func (m *Mem) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.walkLocked(name)
	if err == nil && !n.isDir() {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, pathErr("readdirent", name, err)
	}
	ents := make([]fs.DirEntry, 0, len(n.ents))
	for _, base := range slices.Sorted(maps.Keys(n.ents)) {
		ents = append(ents, fs.FileInfoToDirEntry(n.ents[base].infoLocked(base)))
	}
	return ents, nil
}

func (n *memNode) infoLocked(base string) fs.FileInfo {
	return memInfo{name: base, size: int64(len(n.data)), mode: n.mode, mtime: n.mtime}
}

// memInfo is the fs.FileInfo of a memNode at the time it was asked.
type memInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) Mode() fs.FileMode  { return i.mode }
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.mode.IsDir() }
func (i memInfo) Sys() any           { return nil }

// memFile is an open File of a Mem.
type memFile struct {
	m        *Mem
	n        *memNode
	name     string
	writable bool
	closed   bool
}

// checkLocked returns the error of an operation on f, if any.
func (f *memFile) checkLocked(write bool) error {
	switch {
	case f.closed:
		return fs.ErrClosed
	case write && f.n.isDir():
		return syscall.EISDIR
	case write && !f.writable:
		return syscall.EBADF
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.checkLocked(false); err != nil {
		return 0, pathErr("read", f.name, err)
	}
	if f.n.isDir() {
		return 0, pathErr("read", f.name, syscall.EISDIR)
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	got := copy(p, f.n.data[off:])
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.checkLocked(true); err != nil {
		return 0, pathErr("write", f.name, err)
	}
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		if err := f.m.truncateLocked(f.n, end); err != nil {
			return 0, pathErr("write", f.name, err)
		}
	}
	copy(f.n.data[off:], p)
	f.n.mtime = time.Now()
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	err := f.checkLocked(true)
	if err == nil {
		err = f.m.truncateLocked(f.n, size)
	}
	if err != nil {
		return pathErr("truncate", f.name, err)
	}
	return nil
}

func (f *memFile) Stat() (fs.FileInfo, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.checkLocked(false); err != nil {
		return nil, pathErr("stat", f.name, err)
	}
	_, base := split(f.name)
	return f.n.infoLocked(base), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.checkLocked(false); err != nil {
		return pathErr("sync", f.name, err)
	}
	if f.n.isDir() {
		f.n.durableEnts = copyEnts(f.n.ents)
	} else {
		f.n.durable = slices.Clone(f.n.data)
	}
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	f.n.opens--
	f.m.dropLocked(f.n)
	return nil
}
