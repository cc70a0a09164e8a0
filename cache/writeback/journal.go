package writeback

import (
	"encoding/binary"
	"fmt"

	"github.com/filegate/filegate/cache/ns"
)

// Kind names a change the backend has yet to receive. Ops are applied
// in the order they were queued, each idempotent, so replaying the
// journal after a crash is always safe.
type Kind uint8

const (
	// Put uploads inode Ino under Key: file content, a directory
	// marker or a symlink, whichever Ino is when the op runs.
	Put Kind = iota + 1
	// Delete removes Key (a file, or a directory marker).
	Delete
	// Rename moves Key to Key2: one object, or a directory marker and
	// everything below it.
	Rename
	// SetMeta rewrites the POSIX metadata of Ino's object at Key.
	SetMeta
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Delete:
		return "delete"
	case Rename:
		return "rename"
	case SetMeta:
		return "setmeta"
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// Op is one journal record. A Put keeps in Key2 what it is about to
// upload (see intent), so a replay after a crash knows its own object.
type Op struct {
	Kind Kind
	Ino  ns.Ino
	Key  string
	Key2 string
}

// Marshal encodes o as a journal record: the kind, the inode number
// big-endian, then each key as a uvarint length and its bytes.
func (o Op) Marshal() []byte {
	b := make([]byte, 0, 1+8+len(o.Key)+len(o.Key2)+4)
	b = append(b, byte(o.Kind))
	b = binary.BigEndian.AppendUint64(b, uint64(o.Ino))
	for _, s := range []string{o.Key, o.Key2} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// Unmarshal decodes a journal record written by Marshal.
func Unmarshal(b []byte) (Op, error) {
	var o Op
	if len(b) < 9 || b[0] < byte(Put) || b[0] > byte(SetMeta) {
		return o, fmt.Errorf("cache: damaged journal record of %d bytes", len(b))
	}
	o.Kind = Kind(b[0])
	o.Ino = ns.Ino(binary.BigEndian.Uint64(b[1:]))
	p := b[9:]
	for _, s := range []*string{&o.Key, &o.Key2} {
		l, k := binary.Uvarint(p)
		if k <= 0 || l > uint64(len(p)-k) {
			return o, fmt.Errorf("cache: damaged journal record: bad string length")
		}
		*s = string(p[k : k+int(l)])
		p = p[k+int(l):]
	}
	if len(p) != 0 {
		return o, fmt.Errorf("cache: damaged journal record: %d trailing bytes", len(p))
	}
	return o, nil
}
