package ns

import (
	"io/fs"
	"reflect"
	"testing"
)

func TestInodeRecordRoundTrip(t *testing.T) {
	tests := []Inode{
		{Ino: RootIno, Gen: 1, Mode: fs.ModeDir | 0o755, Nlink: 2},
		{Ino: 42, Gen: 7, Mode: fs.ModeSymlink | 0o777, Target: "../x", Name: "l", Parent: 3, Size: 4},
		{Ino: 1 << 40, Mode: fs.ModeSetuid | 0o4755, UID: 1000, GID: 100, Size: 1 << 41, Flags: FlagDirty | FlagLocal,
			Atime: -1, Mtime: 1e18, Ctime: 5, NextCookie: 9, Version: 11, ETag: `"abc"`, Name: "ü name",
			LoadedAt: 77, RemoteSize: 88, RemoteMtime: 99},
	}
	for _, want := range tests {
		got, err := UnmarshalInode(want.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v\nwant %+v", *got, want)
		}
	}
}

func TestInodeRecordVersion1(t *testing.T) {
	n := Inode{Ino: 5, Name: "a", ETag: "e", Target: "t", RemoteSize: 3}
	b := n.Marshal()
	b = b[:len(b)-24]
	b[0] = 1
	got, err := UnmarshalInode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "a" || got.Target != "t" || got.RemoteSize != 0 {
		t.Fatalf("v1 decoded as %+v", got)
	}
}

func FuzzUnmarshalInode(f *testing.F) {
	f.Add((&Inode{Ino: 3, Name: "x", ETag: "y"}).Marshal())
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := UnmarshalInode(b)
		if err != nil {
			return
		}
		again, err := UnmarshalInode(n.Marshal())
		if err != nil || !reflect.DeepEqual(n, again) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", n, again, err)
		}
	})
}
