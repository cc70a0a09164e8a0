package cache

import (
	"io/fs"
	"reflect"
	"testing"
)

func TestInodeRecordRoundTrip(t *testing.T) {
	tests := []inode{
		{ino: RootIno, gen: 1, mode: fs.ModeDir | 0o755, nlink: 2},
		{ino: 42, gen: 7, mode: fs.ModeSymlink | 0o777, target: "../x", name: "l", parent: 3, size: 4},
		{ino: 1 << 40, mode: fs.ModeSetuid | 0o4755, uid: 1000, gid: 100, size: 1 << 41, flags: flagDirty | flagLocal,
			atime: -1, mtime: 1e18, ctime: 5, nextCookie: 9, version: 11, etag: `"abc"`, name: "ü name",
			loadedAt: 77, remoteSize: 88, remoteMtime: 99},
	}
	for _, want := range tests {
		got, err := unmarshalInode(want.marshal())
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("got %+v\nwant %+v", *got, want)
		}
	}
}

func TestInodeRecordVersion1(t *testing.T) {
	n := inode{ino: 5, name: "a", etag: "e", target: "t", remoteSize: 3}
	b := n.marshal()
	b = b[:len(b)-24]
	b[0] = 1
	got, err := unmarshalInode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.name != "a" || got.target != "t" || got.remoteSize != 0 {
		t.Fatalf("v1 decoded as %+v", got)
	}
}

func FuzzUnmarshalInode(f *testing.F) {
	f.Add((&inode{ino: 3, name: "x", etag: "y"}).marshal())
	f.Add([]byte{2})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := unmarshalInode(b)
		if err != nil {
			return
		}
		again, err := unmarshalInode(n.marshal())
		if err != nil || !reflect.DeepEqual(n, again) {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", n, again, err)
		}
	})
}

func FuzzUnmarshalOp(f *testing.F) {
	f.Add(op{kind: opRename, ino: 4, key: "a/", key2: "b/"}.marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := unmarshalOp(b)
		if err != nil {
			return
		}
		again, err := unmarshalOp(o.marshal())
		if err != nil || again != o {
			t.Fatalf("re-encoding changed %+v to %+v (%v)", o, again, err)
		}
	})
}
