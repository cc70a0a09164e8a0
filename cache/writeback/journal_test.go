package writeback

import (
	"bytes"
	"testing"
)

func FuzzUnmarshal(f *testing.F) {
	f.Add(Op{Kind: Rename, Ino: 4, Key: "a/", Key2: "b/"}.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := Unmarshal(b)
		if err != nil {
			return
		}
		again, err := Unmarshal(o.Marshal())
		if err != nil || again != o {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", o, again, err)
		}
	})
}

// TestOpBytes pins the record layout: journals written by earlier
// releases must replay.
func TestOpBytes(t *testing.T) {
	got := Op{Kind: Put, Ino: 0x0102, Key: "a/b", Key2: "3:4"}.Marshal()
	want := []byte{1, 0, 0, 0, 0, 0, 0, 1, 2, 3, 'a', '/', 'b', 3, '3', ':', '4'}
	if !bytes.Equal(got, want) {
		t.Fatalf("record %v, want %v", got, want)
	}
}
