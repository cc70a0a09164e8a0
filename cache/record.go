package cache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// inode flags, persisted in the record.
const (
	// flagLoaded: a directory whose entries were read from the backend.
	flagLoaded uint32 = 1 << iota
	// flagLocal: the full content is in the local data file.
	flagLocal
	// flagRemote: the backend holds an object for this inode.
	flagRemote
	// flagDirty: local content or attributes not yet uploaded.
	flagDirty
	// flagPinned: an admin asked to keep the content cached.
	flagPinned
)

// inode is one namespace record as stored in the database.
type inode struct {
	ino          Ino
	gen          uint32
	mode         fs.FileMode
	nlink        uint32
	uid, gid     uint32
	size         int64
	major, minor uint32
	flags        uint32
	atime        int64 // ns since the epoch
	mtime        int64
	ctime        int64
	// parent and name are the primary link: the path the backend key is
	// built from.
	parent Ino
	name   string
	// nextCookie is the cookie the next entry of a directory gets.
	nextCookie uint64
	// version counts content changes, so the uploader can tell whether a
	// file changed while it was being uploaded.
	version uint64
	etag    string
	target  string // symlink target
	// loadedAt is when a directory was last listed from the backend (ns).
	loadedAt int64
	// remoteSize and remoteMtime describe the backend object this inode
	// was last in step with; with etag they tell whether someone else
	// changed the object since.
	remoteSize  int64
	remoteMtime int64
}

func (n *inode) has(f uint32) bool { return n.flags&f != 0 }

func (n *inode) attr() Attr {
	return Attr{
		Ino: n.ino, Gen: n.gen, Mode: n.mode, Nlink: n.nlink,
		UID: n.uid, GID: n.gid, Size: n.size, Major: n.major, Minor: n.minor,
		Atime: time.Unix(0, n.atime), Mtime: time.Unix(0, n.mtime), Ctime: time.Unix(0, n.ctime),
	}
}

// recordVersion 2 added loadedAt, remoteSize and remoteMtime after the
// strings; version 1 records still decode, with those zero.
const recordVersion = 2

// fixed part: version(1) ino(8) gen(4) mode(4) nlink(4) uid(4) gid(4)
// size(8) major(4) minor(4) flags(4) atime(8) mtime(8) ctime(8) parent(8)
// nextCookie(8) version(8), then three length-prefixed strings.
const fixedRecordLen = 1 + 8 + 4*5 + 8 + 4*3 + 8*3 + 8*3

var errBadRecord = errors.New("cache: damaged inode record")

func (n *inode) marshal() []byte {
	b := make([]byte, 0, fixedRecordLen+len(n.name)+len(n.etag)+len(n.target)+6)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(n.ino))
	b = binary.BigEndian.AppendUint32(b, n.gen)
	b = binary.BigEndian.AppendUint32(b, uint32(n.mode))
	b = binary.BigEndian.AppendUint32(b, n.nlink)
	b = binary.BigEndian.AppendUint32(b, n.uid)
	b = binary.BigEndian.AppendUint32(b, n.gid)
	b = binary.BigEndian.AppendUint64(b, uint64(n.size))
	b = binary.BigEndian.AppendUint32(b, n.major)
	b = binary.BigEndian.AppendUint32(b, n.minor)
	b = binary.BigEndian.AppendUint32(b, n.flags)
	b = binary.BigEndian.AppendUint64(b, uint64(n.atime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.mtime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.parent))
	b = binary.BigEndian.AppendUint64(b, n.nextCookie)
	b = binary.BigEndian.AppendUint64(b, n.version)
	for _, s := range []string{n.name, n.etag, n.target} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(n.loadedAt))
	b = binary.BigEndian.AppendUint64(b, uint64(n.remoteSize))
	return binary.BigEndian.AppendUint64(b, uint64(n.remoteMtime))
}

func unmarshalInode(b []byte) (*inode, error) {
	if len(b) < fixedRecordLen || b[0] < 1 || b[0] > recordVersion {
		return nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(b))
	}
	n := &inode{}
	p := b[1:]
	u64 := func() uint64 { v := binary.BigEndian.Uint64(p); p = p[8:]; return v }
	u32 := func() uint32 { v := binary.BigEndian.Uint32(p); p = p[4:]; return v }
	n.ino = Ino(u64())
	n.gen = u32()
	n.mode = fs.FileMode(u32())
	n.nlink = u32()
	n.uid = u32()
	n.gid = u32()
	n.size = int64(u64())
	n.major = u32()
	n.minor = u32()
	n.flags = u32()
	n.atime = int64(u64())
	n.mtime = int64(u64())
	n.ctime = int64(u64())
	n.parent = Ino(u64())
	n.nextCookie = u64()
	n.version = u64()
	for _, s := range []*string{&n.name, &n.etag, &n.target} {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return nil, fmt.Errorf("%w: bad string length", errBadRecord)
		}
		*s = string(p[k : k+int(l)])
		p = p[k+int(l):]
	}
	if b[0] >= 2 {
		if len(p) < 24 {
			return nil, fmt.Errorf("%w: short version 2 tail", errBadRecord)
		}
		n.loadedAt, n.remoteSize, n.remoteMtime = int64(u64()), int64(u64()), int64(u64())
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadRecord, len(p))
	}
	return n, nil
}

func inoKey(ino Ino) []byte { return binary.BigEndian.AppendUint64(nil, uint64(ino)) }

// direntKey is parent ino followed by the name, so one directory's
// entries are contiguous and sorted by name.
func direntKey(dir Ino, name string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(name)), uint64(dir)), name...)
}

// dirent value: child ino(8) cookie(8) type bits(4).
func direntValue(child Ino, cookie uint64, mode fs.FileMode) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 20), uint64(child))
	b = binary.BigEndian.AppendUint64(b, cookie)
	return binary.BigEndian.AppendUint32(b, uint32(mode.Type()))
}

func parseDirent(v []byte) (Ino, uint64, fs.FileMode, error) {
	if len(v) != 20 {
		return 0, 0, 0, fmt.Errorf("cache: damaged directory entry of %d bytes", len(v))
	}
	return Ino(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint64(v[8:]), fs.FileMode(binary.BigEndian.Uint32(v[16:])), nil
}

// cookieKey orders one directory's entries by cookie.
func cookieKey(dir Ino, cookie uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(dir))
	return binary.BigEndian.AppendUint64(b, cookie)
}

// linkKey lists every name of a hard-linked inode: ino, parent, name.
func linkKey(ino, dir Ino, name string) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16+len(name)), uint64(ino))
	b = binary.BigEndian.AppendUint64(b, uint64(dir))
	return append(b, name...)
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
