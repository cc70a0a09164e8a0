package cache

import (
	"io/fs"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// Ino is an inode number. Numbers are never reused within one cache
// database; RootIno is the export's root directory.
type Ino = ns.Ino

// RootIno is the inode number of the root directory.
const RootIno = ns.RootIno

// Attr is the attributes of one inode, the shape of NFSv3's fattr3.
type Attr struct {
	Ino Ino
	// Gen is the inode's generation. A file handle carries it, so a handle
	// made before the cache database was rebuilt never names a new inode
	// that happens to reuse the number.
	Gen uint32
	// Mode holds the type bits (fs.ModeDir, fs.ModeSymlink,
	// fs.ModeNamedPipe, fs.ModeSocket, fs.ModeDevice|fs.ModeCharDevice)
	// and the permission bits including setuid, setgid and sticky.
	Mode  fs.FileMode
	Nlink uint32
	UID   uint32
	GID   uint32
	Size  int64
	// Major and Minor are the device numbers of block and character
	// devices.
	Major, Minor        uint32
	Atime, Mtime, Ctime time.Time
}

// IsDir reports whether the inode is a directory.
func (a Attr) IsDir() bool { return a.Mode.IsDir() }

// Change is an inode's attributes just before and just after a call
// changed it, read in the critical section of the change, so nothing
// else falls between them: NFSv3's wcc_data. A zero Attr (Ino 0) in it
// is one the call could not read, the inode being gone by then.
type Change struct {
	Before, After Attr
}

// WriteOpts asks Write for what an NFS WRITE does besides the write.
type WriteOpts struct {
	// Stable makes the write durable before Write returns, as a Commit
	// after it does.
	Stable bool
	// KillSetID drops setuid and setgid first, as Linux does on a write
	// by anyone but root; setgid without group execute, the
	// mandatory-locking marker, stays.
	KillSetID bool
}

// SetAttr selects the attributes SetAttr changes; nil fields stay as they
// are.
type SetAttr struct {
	// Mode changes the permission bits (fs.ModePerm, setuid, setgid,
	// sticky); type bits in it are ignored.
	Mode  *fs.FileMode
	UID   *uint32
	GID   *uint32
	Size  *int64
	Atime *time.Time
	Mtime *time.Time
}

// NewAttr is what Create, Mkdir and Symlink set on a new inode.
type NewAttr struct {
	// Mode holds the permission bits; for Create it may also hold the type
	// bits of a special file (FIFO, socket, device).
	Mode         fs.FileMode
	UID, GID     uint32
	Major, Minor uint32
	// Atime and Mtime, when set, replace the time of creation: NFS's
	// exclusive CREATE keeps its verifier there, and any CREATE, MKDIR
	// or SYMLINK the times its sattr3 asks for, in the transaction that
	// makes the inode rather than a SETATTR's of its own.
	Atime, Mtime time.Time
}

// DirEntry is one entry of a directory listing.
type DirEntry struct {
	Name string
	Ino  Ino
	// Cookie is the entry's position: ReadDir(ctx, dir, e.Cookie, ...)
	// continues after it. It stays valid while the entry exists, whatever
	// is added to or removed from the directory meanwhile.
	Cookie uint64
	// Mode holds the entry's type bits only.
	Mode fs.FileMode
}

// FSStat is the capacity reported to clients.
type FSStat struct {
	TotalBytes, FreeBytes, AvailBytes uint64
	TotalFiles, FreeFiles             uint64
}
