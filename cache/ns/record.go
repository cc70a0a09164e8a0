package ns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
)

// Ino is an inode number. Numbers are never reused within one database;
// RootIno is the export's root directory.
type Ino uint64

// RootIno is the inode number of the root directory.
const RootIno Ino = 1

// NewGen returns a new inode generation: random, so a file handle made
// before the database was rebuilt never names a new inode that reuses
// its number; never 0.
func NewGen() uint32 { return rand.Uint32() | 1 }

// Inode flags, persisted in the record.
const (
	// FlagLoaded: a directory whose entries were read from the backend.
	FlagLoaded uint32 = 1 << iota
	// FlagLocal: the full content is in the local data file.
	FlagLocal
	// FlagRemote: the backend holds an object for this inode.
	FlagRemote
	// FlagDirty: local content or attributes not yet uploaded.
	FlagDirty
	// FlagPinned: an admin asked to keep the content cached.
	FlagPinned
)

// Inode is one namespace record as stored in the database.
type Inode struct {
	Ino          Ino
	Gen          uint32
	Mode         fs.FileMode
	Nlink        uint32
	UID, GID     uint32
	Size         int64
	Major, Minor uint32
	Flags        uint32
	Atime        int64 // ns since the epoch
	Mtime        int64
	Ctime        int64
	// Parent and Name are the primary link: the path the backend key is
	// built from.
	Parent Ino
	Name   string
	// NextCookie is the cookie the next entry of a directory gets.
	NextCookie uint64
	// Version counts content changes, so the uploader can tell whether a
	// file changed while it was being uploaded.
	Version uint64
	ETag    string
	Target  string // symlink target
	// LoadedAt is when a directory was last listed from the backend, in ns
	// since the epoch.
	LoadedAt int64
	// RemoteSize and RemoteMtime describe the backend object this inode
	// was last in step with; with ETag they tell whether someone else
	// changed the object since.
	RemoteSize  int64
	RemoteMtime int64
}

// Has reports whether n has flag f.
func (n *Inode) Has(f uint32) bool { return n.Flags&f != 0 }

// recordVersion 2 added LoadedAt, RemoteSize and RemoteMtime after the
// strings; version 1 records still decode, with those zero.
const recordVersion = 2

// fixed part: version(1) ino(8) gen(4) mode(4) nlink(4) uid(4) gid(4)
// size(8) major(4) minor(4) flags(4) atime(8) mtime(8) ctime(8) parent(8)
// next cookie(8) version(8), then three length-prefixed strings.
const fixedRecordLen = 1 + 8 + 4*5 + 8 + 4*3 + 8*3 + 8*3

// errBadRecord is returned for a record that does not decode.
var errBadRecord = errors.New("cache: damaged inode record")

// Marshal encodes n as its database record.
func (n *Inode) Marshal() []byte {
	b := make([]byte, 0, fixedRecordLen+len(n.Name)+len(n.ETag)+len(n.Target)+6)
	b = append(b, recordVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(n.Ino))
	b = binary.BigEndian.AppendUint32(b, n.Gen)
	b = binary.BigEndian.AppendUint32(b, uint32(n.Mode))
	b = binary.BigEndian.AppendUint32(b, n.Nlink)
	b = binary.BigEndian.AppendUint32(b, n.UID)
	b = binary.BigEndian.AppendUint32(b, n.GID)
	b = binary.BigEndian.AppendUint64(b, uint64(n.Size))
	b = binary.BigEndian.AppendUint32(b, n.Major)
	b = binary.BigEndian.AppendUint32(b, n.Minor)
	b = binary.BigEndian.AppendUint32(b, n.Flags)
	b = binary.BigEndian.AppendUint64(b, uint64(n.Atime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Mtime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Ctime))
	b = binary.BigEndian.AppendUint64(b, uint64(n.Parent))
	b = binary.BigEndian.AppendUint64(b, n.NextCookie)
	b = binary.BigEndian.AppendUint64(b, n.Version)
	for _, s := range []string{n.Name, n.ETag, n.Target} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint64(b, uint64(n.LoadedAt))
	b = binary.BigEndian.AppendUint64(b, uint64(n.RemoteSize))
	return binary.BigEndian.AppendUint64(b, uint64(n.RemoteMtime))
}

// UnmarshalInode decodes a record of Marshal, of this version or an
// earlier one.
func UnmarshalInode(b []byte) (*Inode, error) {
	if len(b) < fixedRecordLen || b[0] < 1 || b[0] > recordVersion {
		return nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(b))
	}
	n := &Inode{}
	p := b[1:]
	u64 := func() uint64 { v := binary.BigEndian.Uint64(p); p = p[8:]; return v }
	u32 := func() uint32 { v := binary.BigEndian.Uint32(p); p = p[4:]; return v }
	n.Ino = Ino(u64())
	n.Gen = u32()
	n.Mode = fs.FileMode(u32())
	n.Nlink = u32()
	n.UID = u32()
	n.GID = u32()
	n.Size = int64(u64())
	n.Major = u32()
	n.Minor = u32()
	n.Flags = u32()
	n.Atime = int64(u64())
	n.Mtime = int64(u64())
	n.Ctime = int64(u64())
	n.Parent = Ino(u64())
	n.NextCookie = u64()
	n.Version = u64()
	for _, s := range []*string{&n.Name, &n.ETag, &n.Target} {
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
		n.LoadedAt, n.RemoteSize, n.RemoteMtime = int64(u64()), int64(u64()), int64(u64())
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadRecord, len(p))
	}
	return n, nil
}

// InoKey is the key of ino in the inodes bucket and others keyed by
// inode.
func InoKey(ino Ino) []byte { return binary.BigEndian.AppendUint64(nil, uint64(ino)) }

// DirentKey is parent ino followed by the name, so one directory's
// entries are contiguous and sorted by name.
func DirentKey(dir Ino, name string) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(name)), uint64(dir)), name...)
}

// direntValue is a directory entry's value: child ino(8) cookie(8) type
// bits(4).
func direntValue(child Ino, cookie uint64, mode fs.FileMode) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 20), uint64(child))
	b = binary.BigEndian.AppendUint64(b, cookie)
	return binary.BigEndian.AppendUint32(b, uint32(mode.Type()))
}

// ParseDirent decodes a value of direntValue.
func ParseDirent(v []byte) (Ino, uint64, fs.FileMode, error) {
	if len(v) != 20 {
		return 0, 0, 0, fmt.Errorf("cache: damaged directory entry of %d bytes", len(v))
	}
	return Ino(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint64(v[8:]), fs.FileMode(binary.BigEndian.Uint32(v[16:])), nil
}

// CookieKey orders one directory's entries by cookie.
func CookieKey(dir Ino, cookie uint64) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(dir))
	return binary.BigEndian.AppendUint64(b, cookie)
}

// LinkKey lists every name of a hard-linked inode: ino, parent, name.
func LinkKey(ino, dir Ino, name string) []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, 16+len(name)), uint64(ino))
	b = binary.BigEndian.AppendUint64(b, uint64(dir))
	return append(b, name...)
}
