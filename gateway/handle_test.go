package gateway

import (
	"bytes"
	"errors"
	"math"
	"testing"

	"github.com/filegate/filegate/cache"
)

func TestHandleEncoding(t *testing.T) {
	tests := []struct {
		name string
		h    fileHandle
		wire []byte
	}{
		{"root", fileHandle{ExportID: 1, Ino: cache.RootIno, Gen: 7},
			[]byte{1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7}},
		{"max", fileHandle{ExportID: math.MaxUint32, Ino: math.MaxUint64, Gen: math.MaxUint32},
			[]byte{1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255}},
		{"byte order", fileHandle{ExportID: 0x01020304, Ino: 0x05060708090a0b0c, Gen: 0x0d0e0f10},
			[]byte{1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}},
		{"gen zero", fileHandle{ExportID: 0, Ino: 42, Gen: 0},
			[]byte{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.h.marshal()
			if len(got)%4 != 0 {
				t.Fatalf("handle of %d bytes: go-nfs needs a multiple of 4", len(got))
			}
			if !bytes.Equal(got, tt.wire) {
				t.Fatalf("marshal = %v, want %v", got, tt.wire)
			}
			back, err := parseHandle(got)
			if err != nil || back != tt.h {
				t.Fatalf("parseHandle = %+v, %v; want %+v", back, err, tt.h)
			}
		})
	}
}

func TestHandleRejects(t *testing.T) {
	good := fileHandle{ExportID: 1, Ino: 5, Gen: 9}.marshal()
	tests := []struct {
		name string
		wire []byte
	}{
		{"empty", nil},
		{"short", good[:handleLen-1]},
		{"long", append(append([]byte{}, good...), 0)},
		{"version 0", append([]byte{0}, good[1:]...)},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"reserved set", append([]byte{1, 0, 1}, good[3:]...)},
		{"v1 17-byte draft", good[:1+4+8+4]},
		{"inode 0", fileHandle{ExportID: 1, Ino: 0, Gen: 9}.marshal()},
		{"go-nfs caching handle", bytes.Repeat([]byte{0xab}, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if h, err := parseHandle(tt.wire); !errors.Is(err, errBadHandle) {
				t.Fatalf("parseHandle(%v) = %+v, %v; want errBadHandle", tt.wire, h, err)
			}
		})
	}
}

// FuzzParseHandle checks that decoding never panics, accepts exactly the
// well-formed handles, and round-trips them.
func FuzzParseHandle(f *testing.F) {
	f.Add(fileHandle{ExportID: 1, Ino: 1, Gen: 1}.marshal())
	f.Add(fileHandle{ExportID: 3, Ino: 1 << 40, Gen: 0}.marshal())
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7})
	f.Add(bytes.Repeat([]byte{1}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHandle(b)
		wellFormed := len(b) == handleLen && b[0] == handleVersion &&
			b[1] == 0 && b[2] == 0 && b[3] == 0 && !bytes.Equal(b[8:16], make([]byte, 8))
		if (err == nil) != wellFormed {
			t.Fatalf("parseHandle(%v) err = %v, well-formed = %v", b, err, wellFormed)
		}
		if err != nil {
			return
		}
		if got := h.marshal(); !bytes.Equal(got, b) {
			t.Fatalf("round trip of %v gave %v", b, got)
		}
	})
}
