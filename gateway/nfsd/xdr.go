package nfsd

import (
	"encoding/binary"
	"errors"
)

// errGarbage is a request whose arguments do not decode: GARBAGE_ARGS.
var errGarbage = errors.New("nfsd: bad XDR")

// decoder reads XDR (RFC 4506) from a byte slice: one request record, held
// in a pooled buffer. Errors are sticky: after the first short or bad
// field every read returns zero values and err is set, so a procedure
// decodes all its arguments and checks once. Opaques are sub-slices of
// the record (WRITE data is never copied); lengths are checked against
// what is left before anything is sliced, so garbage cannot make it
// allocate.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail() { d.err = errGarbage }

func (d *decoder) uint32() uint32 {
	if d.err != nil || len(d.b)-d.off < 4 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil || len(d.b)-d.off < 8 {
		d.fail()
		return 0
	}
	v := binary.BigEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

// bool decodes an XDR bool; anything but 0 or 1 is garbage.
func (d *decoder) bool() bool {
	switch d.uint32() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail()
	return false
}

// fixed returns the next n bytes (an XDR fixed-length opaque, padded).
func (d *decoder) fixed(n int) []byte {
	padded := (n + 3) &^ 3
	if d.err != nil || n < 0 || len(d.b)-d.off < padded {
		d.fail()
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += padded
	return v
}

// opaque returns a variable-length opaque of at most max bytes, aliasing
// the record.
func (d *decoder) opaque(max int) []byte {
	n := d.uint32()
	if d.err != nil || n > uint32(max) {
		d.fail()
		return nil
	}
	return d.fixed(int(n))
}

// string decodes a string of at most max bytes (copied: names outlive
// the record in the cache).
func (d *decoder) string(max int) string {
	return string(d.opaque(max))
}

// encoder appends XDR to a byte slice (a pooled reply buffer).
type encoder struct {
	b []byte
}

func (e *encoder) uint32(v uint32) { e.b = binary.BigEndian.AppendUint32(e.b, v) }
func (e *encoder) uint64(v uint64) { e.b = binary.BigEndian.AppendUint64(e.b, v) }

func (e *encoder) bool(v bool) {
	if v {
		e.uint32(1)
	} else {
		e.uint32(0)
	}
}

// opaque appends a variable-length opaque with its padding.
func (e *encoder) opaque(p []byte) {
	e.uint32(uint32(len(p)))
	e.b = append(e.b, p...)
	e.pad(len(p))
}

func (e *encoder) string(s string) {
	e.uint32(uint32(len(s)))
	e.b = append(e.b, s...)
	e.pad(len(s))
}

// fixed appends a fixed-length opaque with its padding.
func (e *encoder) fixed(p []byte) {
	e.b = append(e.b, p...)
	e.pad(len(p))
}

var zeros [4]byte

func (e *encoder) pad(n int) {
	if r := n & 3; r != 0 {
		e.b = append(e.b, zeros[:4-r]...)
	}
}

// xdrLen is the encoded size of an opaque or string of n bytes.
func xdrLen(n int) int { return 4 + (n+3)&^3 }
