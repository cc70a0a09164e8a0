package nfsd

import (
	"encoding/binary"

	"github.com/filegate/filegate/cache"
)

// The wire form of a file handle never changes: clients keep handles
// across restarts and upgrades of the server, and a new layout would make
// every one of them stale:
//
//	offset size field
//	0      1    version (handleVersion)
//	1      3    reserved, zero
//	4      4    export id, big endian
//	8      8    inode number, big endian
//	16     4    inode generation, big endian
//
// Everything needed to find the inode is in the bytes, so a handle
// outlives restarts and renames and never expires; it is stale only when
// the inode is gone or its generation differs.
const (
	handleVersion = 1
	handleLen     = 1 + 3 + 4 + 8 + 4
	// maxHandle is NFSv3's NFS3_FHSIZE.
	maxHandle = 64
)

// fileHandle is the decoded form of a handle.
type fileHandle struct {
	ExportID uint32
	Ino      cache.Ino
	Gen      uint32
}

// append appends the wire form of h (without XDR length) to b.
func (h fileHandle) append(b []byte) []byte {
	b = append(b, handleVersion, 0, 0, 0)
	b = binary.BigEndian.AppendUint32(b, h.ExportID)
	b = binary.BigEndian.AppendUint64(b, uint64(h.Ino))
	return binary.BigEndian.AppendUint32(b, h.Gen)
}

// parseHandle decodes b; false for any length, version or reserved bits
// it does not know, and for inode 0 (BADHANDLE).
func parseHandle(b []byte) (fileHandle, bool) {
	if len(b) != handleLen || b[0] != handleVersion || b[1]|b[2]|b[3] != 0 {
		return fileHandle{}, false
	}
	h := fileHandle{
		ExportID: binary.BigEndian.Uint32(b[4:8]),
		Ino:      cache.Ino(binary.BigEndian.Uint64(b[8:16])),
		Gen:      binary.BigEndian.Uint32(b[16:20]),
	}
	return h, h.Ino != 0
}
