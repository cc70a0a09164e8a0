package s3_test

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/s3/s3test"
)

// TestListHeads counts the HEADs of listing a directory of n objects
// and m subdirectories written through the store, as the gateway's
// cache does: without ListOptions.Known every object and marker costs a
// HEAD (n+m); with Known from the Put results, none. An object rewritten
// by another tool is read again, alone.
func TestListHeads(t *testing.T) {
	const n, m = 200, 5
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	s := s3test.Open(t, cfg)
	ctx := t.Context()
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	held := map[string]backend.ObjectInfo{}
	for i := range n {
		key := fmt.Sprintf("dir/f%04d", i)
		oi, err := s.Put(ctx, key, strings.NewReader(key), int64(len(key)),
			&backend.Attrs{Mode: 0o640, UID: 1000, GID: 1000, MTime: mtime})
		if err != nil {
			t.Fatal(err)
		}
		held[key] = oi
	}
	dirAttrs := &backend.Attrs{Mode: fs.ModeDir | 0o700, UID: 1001, GID: 1002, MTime: mtime}
	for i := range m {
		key := fmt.Sprintf("dir/sub%d/", i)
		oi, err := s.Put(ctx, key, strings.NewReader(""), 0, dirAttrs)
		if err != nil {
			t.Fatal(err)
		}
		held[key] = oi
	}
	knownFn := func(key string) (backend.Known, bool) {
		h, ok := held[key]
		return backend.Known{Size: h.Size, ETag: h.ETag}, ok
	}
	list := func(known func(string) (backend.Known, bool)) (heads int64, got map[string]backend.ObjectInfo) {
		t.Helper()
		got = map[string]backend.ObjectInfo{}
		before := s.Stats().Heads
		err := s.List(ctx, backend.ListOptions{Prefix: "dir/", Delimiter: "/", Known: known}, func(oi backend.ObjectInfo) error {
			got[oi.Key] = oi
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n+m {
			t.Fatalf("listed %d items, want %d", len(got), n+m)
		}
		return s.Stats().Heads - before, got
	}

	heads, got := list(nil)
	t.Logf("listing %d objects and %d subdirectories: %d HEADs without Known", n, m, heads)
	if heads != n+m {
		t.Errorf("%d HEADs without Known, want %d (one per object and marker)", heads, n+m)
	}
	if a := got["dir/sub0/"].Attrs; a == nil || a.Mode != dirAttrs.Mode || a.UID != dirAttrs.UID || a.GID != dirAttrs.GID {
		t.Errorf("subdirectory listed with attrs %+v, want its marker's %+v", a, dirAttrs)
	}

	heads, got = list(knownFn)
	t.Logf("listing %d objects and %d subdirectories: %d HEADs with Known", n, m, heads)
	if heads != 0 {
		t.Errorf("%d HEADs for objects the caller knows, want 0", heads)
	}
	for k, oi := range got {
		if !oi.Known || !oi.Prefix && oi.ETag != held[k].ETag {
			t.Fatalf("%s: Known %v ETag %q, want Known with the caller's ETag %q", k, oi.Known, oi.ETag, held[k].ETag)
		}
	}

	// Another tool replaces one object (no metadata of ours).
	changed := "dir/f0007"
	if _, err := srv.Client().PutObject(context.Background(), &awss3.PutObjectInput{Bucket: &cfg.Bucket,
		Key: &changed, Body: strings.NewReader("changed!!")}); err != nil {
		t.Fatal(err)
	}
	heads, got = list(knownFn)
	if heads != 1 {
		t.Errorf("%d HEADs after one object changed, want 1", heads)
	}
	if oi := got[changed]; oi.Known || oi.Attrs != nil || oi.Size != int64(len("changed!!")) {
		t.Errorf("changed object listed as Known %v, attrs %+v, size %d; want read afresh, without attrs", oi.Known, oi.Attrs, oi.Size)
	}
}
