package backend

import (
	"testing"
	"time"
)

func TestObjectInfoChangedFrom(t *testing.T) {
	modTime := time.Unix(100, 0)
	posix := time.Unix(50, 0)
	plain := ObjectInfo{ETag: "e2", Size: 4, ModTime: modTime}
	withAttrs := ObjectInfo{ETag: "e2", Size: 4, ModTime: modTime, Attrs: &Attrs{MTime: posix}}
	if got := withAttrs.MtimeNano(); got != posix.UnixNano() {
		t.Errorf("MtimeNano with POSIX metadata = %d, want its mtime", got)
	}
	for _, tc := range []struct {
		name        string
		o           ObjectInfo
		etag        string
		size, mtime int64
		want        bool
	}{
		{"same etag", plain, "e2", 9, 9, false},
		{"new etag, same size and mtime (a move)", plain, "e1", 4, modTime.UnixNano(), false},
		{"new etag and size", plain, "e1", 3, modTime.UnixNano(), true},
		{"new etag and mtime", plain, "e1", 4, 1, true},
		{"POSIX mtime wins over the store's", withAttrs, "e1", 4, posix.UnixNano(), false},
	} {
		if got := tc.o.ChangedFrom(tc.etag, tc.size, tc.mtime); got != tc.want {
			t.Errorf("%s: ChangedFrom = %v, want %v", tc.name, got, tc.want)
		}
	}
}
