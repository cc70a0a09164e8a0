package nfsd

import (
	"bytes"
	"math"
	"testing"

	"github.com/filegate/filegate/cache"
)

// TestHandleEncoding pins the wire form: clients hold these bytes
// across restarts and upgrades of the server.
func TestHandleEncoding(t *testing.T) {
	for _, tc := range []struct {
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
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.h.append(nil)
			if !bytes.Equal(got, tc.wire) {
				t.Fatalf("append = %v, want %v", got, tc.wire)
			}
			if back, ok := parseHandle(got); !ok || back != tc.h {
				t.Fatalf("parseHandle = %+v, %v; want %+v", back, ok, tc.h)
			}
			// Appending keeps what is before.
			if got := tc.h.append([]byte{9}); !bytes.Equal(got, append([]byte{9}, tc.wire...)) {
				t.Fatalf("append after a byte = %v", got)
			}
		})
	}
}

func TestHandleRejects(t *testing.T) {
	good := fileHandle{ExportID: 1, Ino: 5, Gen: 9}.append(nil)
	for _, tc := range []struct {
		name string
		wire []byte
	}{
		{"empty", nil},
		{"short", good[:handleLen-1]},
		{"long", append(bytes.Clone(good), 0)},
		{"version 0", append([]byte{0}, good[1:]...)},
		{"version 2", append([]byte{2}, good[1:]...)},
		{"reserved byte 1", append([]byte{1, 1}, good[2:]...)},
		{"reserved byte 2", append([]byte{1, 0, 1}, good[3:]...)},
		{"reserved byte 3", append([]byte{1, 0, 0, 0x80}, good[4:]...)},
		{"v1 17-byte draft", good[:1+4+8+4]},
		{"inode 0", fileHandle{ExportID: 1, Ino: 0, Gen: 9}.append(nil)},
		{"go-nfs caching handle", bytes.Repeat([]byte{0xab}, 16)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h, ok := parseHandle(tc.wire); ok {
				t.Fatalf("parseHandle(%v) = %+v, accepted", tc.wire, h)
			}
		})
	}
}

// FuzzParseHandle checks that decoding never panics, accepts exactly the
// well-formed handles, and round-trips them.
func FuzzParseHandle(f *testing.F) {
	f.Add(fileHandle{ExportID: 1, Ino: 1, Gen: 1}.append(nil))
	f.Add(fileHandle{ExportID: 3, Ino: 1 << 40, Gen: 0}.append(nil))
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7})
	f.Add(bytes.Repeat([]byte{1}, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseHandle(b)
		wellFormed := len(b) == handleLen && b[0] == handleVersion &&
			b[1] == 0 && b[2] == 0 && b[3] == 0 && !bytes.Equal(b[8:16], make([]byte, 8))
		if ok != wellFormed {
			t.Fatalf("parseHandle(%v) ok = %v, well-formed = %v", b, ok, wellFormed)
		}
		if !ok {
			return
		}
		if got := h.append(nil); !bytes.Equal(got, b) {
			t.Fatalf("round trip of %v gave %v", b, got)
		}
	})
}
