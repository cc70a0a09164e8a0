package storetest

import (
	"errors"
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

func testCopy(t *testing.T, s backend.Store, opts Options) {
	ctx := t.Context()
	mtime := time.Date(2022, 2, 3, 4, 5, 6, 7e6, time.UTC)
	a1 := attrsFor(0o640, mtime)
	mustPut(t, s, "src", "content", a1)

	oi, err := s.Copy(ctx, "src", "dst1", nil)
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if oi.Key != "dst1" || oi.Size != 7 {
		t.Errorf("Copy = %+v", oi)
	}
	if got := mustGet(t, s, "dst1"); got != "content" {
		t.Errorf("Get(copy) = %q", got)
	}
	checkAttrs(t, "copy with nil attrs", mustStat(t, s, "dst1").Attrs, a1, opts)

	a2 := attrsFor(fs.ModeSetgid|0o705, mtime.Add(time.Minute))
	if _, err := s.Copy(ctx, "src", "sub/dst2", a2); err != nil {
		t.Fatal(err)
	}
	checkAttrs(t, "copy with attrs", mustStat(t, s, "sub/dst2").Attrs, a2, opts)
	checkAttrs(t, "copy source", mustStat(t, s, "src").Attrs, a1, opts)
	if got := mustGet(t, s, "sub/dst2"); got != "content" {
		t.Errorf("Get(copy) = %q", got)
	}

	mustPut(t, s, "dst3", "old and longer", nil)
	if _, err := s.Copy(ctx, "src", "dst3", nil); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "dst3"); got != "content" {
		t.Errorf("Get(copy over a key) = %q", got)
	}

	// In place: metadata only.
	before := mustStat(t, s, "src")
	a3 := attrsFor(fs.ModeSticky|0o600, mtime.Add(-time.Hour))
	oi, err = s.Copy(ctx, "src", "src", a3)
	if err != nil {
		t.Fatalf("Copy in place: %v", err)
	}
	after := mustStat(t, s, "src")
	checkAttrs(t, "copy in place", after.Attrs, a3, opts)
	if after.ETag == before.ETag || oi.ETag != after.ETag {
		t.Errorf("ETags before, returned, after in-place copy: %q %q %q", before.ETag, oi.ETag, after.ETag)
	}
	if got := mustGet(t, s, "src"); got != "content" {
		t.Errorf("Get after in-place copy = %q", got)
	}
	if _, err := s.Copy(ctx, "src", "src", nil); err != nil {
		t.Errorf("Copy to itself with nil attrs: %v", err)
	}
	checkAttrs(t, "copy to itself with nil attrs", mustStat(t, s, "src").Attrs, a3, opts)

	if _, err := s.Copy(ctx, "missing", "dst4", nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Copy of a missing key = %v, want fs.ErrNotExist", err)
	}
	wantNotExist(t, s, "dst4")

	ad := attrsFor(fs.ModeDir|0o700, mtime)
	mustPut(t, s, "m/", "", nil)
	if _, err := s.Copy(ctx, "m/", "n/", ad); err != nil {
		t.Fatalf("Copy of a marker: %v", err)
	}
	checkAttrs(t, "copied marker", mustStat(t, s, "n/").Attrs, ad, opts)
	if _, err := s.Copy(ctx, "m/", "file", nil); err == nil {
		t.Error("Copy of a marker to a file key succeeded")
	}

	al := attrsFor(fs.ModeSymlink|0o777, mtime)
	mustPut(t, s, "link", "some/target", al)
	if _, err := s.Copy(ctx, "link", "link2", nil); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "link2"); got != "some/target" {
		t.Errorf("Get(copied symlink) = %q", got)
	}
	checkAttrs(t, "copied symlink", mustStat(t, s, "link2").Attrs, al, opts)
}

func testRename(t *testing.T, s backend.Store, _ Options) {
	r, ok := s.(backend.Renamer)
	if !ok {
		return
	}
	ctx := t.Context()
	mustPut(t, s, "r1", "one", nil)
	if err := r.Rename(ctx, "r1", "sub/r2"); err != nil {
		t.Fatalf("Rename: %v", err)
	}
	wantNotExist(t, s, "r1")
	if got := mustGet(t, s, "sub/r2"); got != "one" {
		t.Errorf("Get after rename = %q", got)
	}
	mustPut(t, s, "r3", "three", nil)
	if err := r.Rename(ctx, "sub/r2", "r3"); err != nil {
		t.Fatalf("Rename over a key: %v", err)
	}
	if got := mustGet(t, s, "r3"); got != "one" {
		t.Errorf("Get after rename over a key = %q", got)
	}

	for _, k := range []string{"dir/", "dir/f", "dir/sub/", "dir/sub/g"} {
		body := ""
		if k[len(k)-1] != '/' {
			body = k
		}
		mustPut(t, s, k, body, nil)
	}
	if err := r.Rename(ctx, "dir/", "moved/"); err != nil {
		t.Fatalf("Rename of a directory: %v", err)
	}
	want := []string{"moved/", "moved/f", "moved/sub/", "moved/sub/g"}
	if got := listed(t, s, backend.ListOptions{Prefix: "moved/"}); !slices.Equal(got, want) {
		t.Errorf("List after rename = %q, want %q", got, want)
	}
	if got := listed(t, s, backend.ListOptions{Prefix: "dir/"}); len(got) != 0 {
		t.Errorf("List of the old name = %q", got)
	}
	if got := mustGet(t, s, "moved/sub/g"); got != "dir/sub/g" {
		t.Errorf("Get after rename = %q", got)
	}

	if err := r.Rename(ctx, "nope", "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Rename of a missing key = %v, want fs.ErrNotExist", err)
	}
	if err := r.Rename(ctx, "moved/", "file"); err == nil {
		t.Error("Rename of a marker to a file key succeeded")
	}
}

func testUsage(t *testing.T, s backend.Store, _ Options) {
	u, ok := s.(backend.UsageReporter)
	if !ok {
		return
	}
	got, err := u.Usage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if got.TotalBytes == 0 || got.FreeBytes > got.TotalBytes {
		t.Errorf("Usage = %+v", got)
	}
}
