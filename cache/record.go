package cache

import (
	"encoding/binary"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// attrOf returns the attributes of n.
func attrOf(n *ns.Inode) Attr {
	return Attr{
		Ino: n.Ino, Gen: n.Gen, Mode: n.Mode, Nlink: n.Nlink,
		UID: n.UID, GID: n.GID, Size: n.Size, Major: n.Major, Minor: n.Minor,
		Atime: time.Unix(0, n.Atime), Mtime: time.Unix(0, n.Mtime), Ctime: time.Unix(0, n.Ctime),
	}
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }
