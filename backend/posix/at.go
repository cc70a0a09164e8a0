package posix

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// parent is an open directory and the name of one entry in it. Every step
// of an operation (create, chmod, rename, fsync) goes through the same
// descriptor, so they all act on one directory even while paths change.
type parent struct {
	dir  *os.File
	fd   int
	rel  string // path of the entry below Root, for messages
	name string
	tag  string // the store's temp tag (see tempName)
}

// openParent opens the directory holding rel; it follows symlinks only
// within Root.
func (s *Store) openParent(rel string) (*parent, error) {
	d, err := s.root.OpenFile(path.Dir(rel), os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return &parent{dir: d, fd: int(d.Fd()), rel: rel, name: path.Base(rel), tag: s.tag}, nil
}

func (p *parent) close() { p.dir.Close() }

// sync makes entries created, renamed or removed in the directory durable.
func (p *parent) sync() error { return p.dir.Sync() }

func (p *parent) lstat(name string) (*unix.Stat_t, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(p.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: p.rel, Err: err}
	}
	return &st, nil
}

// tempName returns a fresh name in the directory: tmpPrefix, the
// store's tag, "-" and 64 random bits, which make a collision so
// unlikely that O_EXCL failing is reported, not retried. The tag tells
// this store's temps from those an earlier process left (see Sweep).
func (p *parent) tempName() string {
	return tmpPrefix + p.tag + "-" + randomHex()
}

// randomHex returns 64 random bits in hex.
func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createTemp makes an empty file that only we can open yet.
func (p *parent) createTemp() (*os.File, string, error) {
	name := p.tempName()
	fd, err := unix.Openat(p.fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create temp: %w", err)
	}
	return os.NewFile(uintptr(fd), path.Join(path.Dir(p.rel), name)), name, nil
}

// removeTemp cleans up after a failed write; the error that made it fail
// is the one worth reporting.
func (p *parent) removeTemp(name string) {
	_ = unix.Unlinkat(p.fd, name, 0)
}

// commit renames the finished temp over the entry and makes it durable.
func (p *parent) commit(tmp string) error {
	if err := unix.Renameat(p.fd, tmp, p.fd, p.name); err != nil {
		p.removeTemp(tmp)
		return fmt.Errorf("rename: %w", err)
	}
	if err := p.sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// setAttrs applies a to the entry name. Type bits in a.Mode are ignored:
// the entry already has its type. A symlink has no mode of its own on
// Linux, so only its owner and mtime are set.
//
// Chown failing with EPERM is ignored when we are not root: an
// unprivileged gateway still works, with files owned by its own user.
func (p *parent) setAttrs(name string, a *backend.Attrs, symlink bool) error {
	if err := unix.Fchownat(p.fd, name, int(a.UID), int(a.GID), unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if !errors.Is(err, unix.EPERM) || os.Geteuid() == 0 {
			return fmt.Errorf("chown: %w", err)
		}
	}
	// After chown, which clears setuid and setgid.
	if !symlink {
		if err := p.chmod(name, a.Mode); err != nil {
			return err
		}
	}
	if !a.MTime.IsZero() {
		if err := p.setMTime(name, a.MTime); err != nil {
			return err
		}
	}
	return nil
}

func (p *parent) chmod(name string, mode fs.FileMode) error {
	if err := unix.Fchmodat(p.fd, name, unixPerm(mode), 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return nil
}

func (p *parent) setMTime(name string, mtime time.Time) error {
	ts := []unix.Timespec{
		{Nsec: unix.UTIME_OMIT},
		unix.NsecToTimespec(mtime.UnixNano()),
	}
	if err := unix.UtimesNanoAt(p.fd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set mtime: %w", err)
	}
	return nil
}

// lstat returns the inode at rel without following a final symlink.
func (s *Store) lstat(rel string) (*unix.Stat_t, error) {
	p, err := s.openParent(rel)
	if err != nil {
		return nil, err
	}
	defer p.close()
	return p.lstat(p.name)
}

// statKey is lstat for a key: keys are exact, so a directory is only its
// marker and a file never is, and a path through a file is missing.
func (s *Store) statKey(key string) (*unix.Stat_t, error) {
	st, err := s.lstat(relPath(key))
	switch {
	case err != nil:
		return nil, notExistIfNotDir(err)
	case isMarker(key) && !isDir(st):
		return nil, fmt.Errorf("%w: not a directory", fs.ErrNotExist)
	case !isMarker(key) && isDir(st):
		return nil, fmt.Errorf("%w: a directory, whose key is %q", fs.ErrNotExist, key+"/")
	}
	return st, nil
}

// mkdirs makes rel and its missing parents with DirPerm, syncing each
// parent so the new entries survive a crash.
func (s *Store) mkdirs(rel string) error {
	if rel == "." {
		return nil
	}
	st, err := s.lstat(rel)
	switch {
	case err == nil && isDir(st):
		return nil
	case err == nil:
		return &fs.PathError{Op: "mkdir", Path: rel, Err: unix.ENOTDIR}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	p, err := s.openParentMaking(rel)
	if err != nil {
		return err
	}
	defer p.close()
	return p.mkdir(s.cfg.DirPerm)
}

// openParentMaking is openParent after making rel's missing parents.
func (s *Store) openParentMaking(rel string) (*parent, error) {
	if err := s.mkdirs(path.Dir(rel)); err != nil {
		return nil, err
	}
	return s.openParent(rel)
}

// mkdir makes the entry a directory with perm; an existing directory is
// fine, as when two Puts race, and keeps its mode.
func (p *parent) mkdir(perm fs.FileMode) error {
	err := unix.Mkdirat(p.fd, p.name, 0o700)
	if errors.Is(err, unix.EEXIST) {
		st, serr := p.lstat(p.name)
		if serr == nil && isDir(st) {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: p.rel, Err: err}
	}
	if err != nil {
		return &fs.PathError{Op: "mkdir", Path: p.rel, Err: err}
	}
	// chmod rather than the mkdir mode, which the umask would narrow.
	if err := p.chmod(p.name, perm); err != nil {
		return err
	}
	return p.sync()
}

func isDir(st *unix.Stat_t) bool     { return st.Mode&unix.S_IFMT == unix.S_IFDIR }
func isSymlink(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFLNK }
func isRegular(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }

func unixPerm(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= unix.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= unix.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= unix.S_ISVTX
	}
	return u
}

func fileMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	switch u & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	if u&unix.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if u&unix.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if u&unix.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

func attrsOf(st *unix.Stat_t) *backend.Attrs {
	return &backend.Attrs{
		Mode:  fileMode(st.Mode),
		UID:   st.Uid,
		GID:   st.Gid,
		MTime: time.Unix(st.Mtim.Unix()),
	}
}

// info describes the inode st found under key. The ETag covers size,
// mtime, inode and ctime: a Put makes a new inode, and chmod, chown or
// utimes bump ctime, so any change we or another tool make shows.
func info(key string, st *unix.Stat_t) backend.ObjectInfo {
	a := attrsOf(st)
	size := st.Size
	if isDir(st) {
		size = 0
	}
	return backend.ObjectInfo{
		Key:     key,
		Size:    size,
		ModTime: a.MTime,
		ETag:    fmt.Sprintf("%s-%x-%x", contentTag(st), st.Ino, st.Ctim.Nano()),
		Attrs:   a,
	}
}

// contentTag is the part of an ETag that a change of content always
// changes: size and mtime. (The inode number, which a replacement
// changes too, is left out: filesystems that do not keep it stable, as
// some FUSE ones, would make every version-checked Get fail.)
func contentTag(st *unix.Stat_t) string {
	return fmt.Sprintf("%x-%x", st.Size, st.Mtim.Nano())
}
