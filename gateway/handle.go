package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/filegate/filegate/cache"
)

// A file handle is a fixed 20-byte string:
//
//	offset size field
//	0      1    version (handleVersion)
//	1      3    reserved, zero
//	4      4    export id, big endian
//	8      8    inode number, big endian
//	16     4    inode generation, big endian
//
// The length must be a multiple of 4: go-nfs reads handles with
// go-nfs-client's xdr.ReadOpaque, which does not skip XDR's padding, so
// after a 17-byte handle every later argument (SETATTR's attributes, say)
// would be read 3 bytes off. The reserved bytes fill that gap; they must be
// zero, so a later version can use them.
//
// Everything needed to find the inode is in the bytes, so a handle outlives
// restarts of the daemon and renames of the file or of any directory above
// it, and never expires. It goes stale only when the inode is gone or its
// generation differs (the cache database was rebuilt and reused the
// number). The export id keeps a handle of one export from naming an inode
// of another export served by the same host. No MAC is added: AUTH_SYS
// clients can already name any file by LOOKUP, so a forged handle gains
// nothing.
const (
	handleVersion = 1
	handleLen     = 1 + 3 + 4 + 8 + 4
)

var errBadHandle = errors.New("gateway: bad file handle")

// fileHandle is the decoded form of a handle.
type fileHandle struct {
	ExportID uint32
	Ino      cache.Ino
	Gen      uint32
}

// marshal returns the wire form of h.
func (h fileHandle) marshal() []byte {
	b := make([]byte, 0, handleLen)
	b = append(b, handleVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, h.ExportID)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Ino))
	b = binary.BigEndian.AppendUint32(b, h.Gen)
	return b
}

// parseHandle decodes b. It rejects any length or version it does not
// know, and inode 0, which no cache ever hands out.
func parseHandle(b []byte) (fileHandle, error) {
	if len(b) != handleLen {
		return fileHandle{}, fmt.Errorf("%w: length %d", errBadHandle, len(b))
	}
	if b[0] != handleVersion {
		return fileHandle{}, fmt.Errorf("%w: version %d", errBadHandle, b[0])
	}
	if b[1]|b[2]|b[3] != 0 {
		return fileHandle{}, fmt.Errorf("%w: reserved bytes set", errBadHandle)
	}
	h := fileHandle{
		ExportID: binary.BigEndian.Uint32(b[4:8]),
		Ino:      cache.Ino(binary.BigEndian.Uint64(b[8:16])),
		Gen:      binary.BigEndian.Uint32(b[16:20]),
	}
	if h.Ino == 0 {
		return fileHandle{}, fmt.Errorf("%w: inode 0", errBadHandle)
	}
	return h, nil
}
