package cache

import (
	"encoding/binary"
	"fmt"
)

// opKind names a change the backend has yet to receive. Ops are applied
// in the order they were queued, each idempotent, so replaying the
// journal after a crash is always safe.
type opKind uint8

const (
	// opPut uploads inode ino under key: file content, a directory
	// marker or a symlink, whichever ino is when the op runs.
	opPut opKind = iota + 1
	// opDelete removes key (a file, or a directory marker).
	opDelete
	// opRename moves key to key2: one object, or a directory marker and
	// everything below it.
	opRename
	// opSetMeta rewrites the POSIX metadata of ino's object at key.
	opSetMeta
)

func (k opKind) String() string {
	switch k {
	case opPut:
		return "put"
	case opDelete:
		return "delete"
	case opRename:
		return "rename"
	case opSetMeta:
		return "setmeta"
	}
	return fmt.Sprintf("op%d", uint8(k))
}

// op is one journal record.
type op struct {
	kind opKind
	ino  Ino
	key  string
	key2 string
}

func (o op) marshal() []byte {
	b := make([]byte, 0, 1+8+len(o.key)+len(o.key2)+4)
	b = append(b, byte(o.kind))
	b = binary.BigEndian.AppendUint64(b, uint64(o.ino))
	for _, s := range []string{o.key, o.key2} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

func unmarshalOp(b []byte) (op, error) {
	var o op
	if len(b) < 9 || b[0] < byte(opPut) || b[0] > byte(opSetMeta) {
		return o, fmt.Errorf("cache: damaged journal record of %d bytes", len(b))
	}
	o.kind = opKind(b[0])
	o.ino = Ino(binary.BigEndian.Uint64(b[1:]))
	p := b[9:]
	for _, s := range []*string{&o.key, &o.key2} {
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
