package storetest

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

func testPutGetStat(t *testing.T, s backend.Store, _ Options) {
	put := mustPut(t, s, "dir/f.txt", "hello, world", nil)
	if put.ETag == "" {
		t.Error("Put returned an empty ETag")
	}
	st := mustStat(t, s, "dir/f.txt")
	if st.Size != 12 || st.ETag != put.ETag || st.Prefix {
		t.Errorf("Stat = %+v, want size 12, ETag %q", st, put.ETag)
	}
	if st.ModTime.IsZero() {
		t.Error("Stat: zero ModTime")
	}
	if again := mustStat(t, s, "dir/f.txt"); again.ETag != st.ETag {
		t.Errorf("ETag changed without a write: %q then %q", st.ETag, again.ETag)
	}
	if got := mustGet(t, s, "dir/f.txt"); got != "hello, world" {
		t.Errorf("Get = %q", got)
	}
	mustPut(t, s, "empty", "", nil)
	if got := mustGet(t, s, "empty"); got != "" {
		t.Errorf("Get(empty) = %q", got)
	}
}

func testGetRange(t *testing.T, s backend.Store, _ Options) {
	mustPut(t, s, "r", "0123456789", nil)
	for _, tc := range []struct {
		off, length int64
		want        string
	}{
		{0, -1, "0123456789"},
		{0, 10, "0123456789"},
		{2, 3, "234"},
		{3, -5, "3456789"},
		{8, 10, "89"},
		{0, 0, ""},
		{10, 5, ""},
		{20, 5, ""},
		{20, -1, ""},
	} {
		got, err := get(t, s, "r", tc.off, tc.length)
		if err != nil || got != tc.want {
			t.Errorf("Get(off %d, length %d) = %q, %v; want %q", tc.off, tc.length, got, err, tc.want)
		}
	}
	if _, err := get(t, s, "r", -1, 2); err == nil {
		t.Error("Get with a negative offset succeeded")
	}
}

func testOverwrite(t *testing.T, s backend.Store, _ Options) {
	first := mustPut(t, s, "k", "one", nil)
	second := mustPut(t, s, "k", "two", nil)
	if got := mustGet(t, s, "k"); got != "two" {
		t.Errorf("Get after overwrite = %q", got)
	}
	if first.ETag == second.ETag {
		t.Errorf("ETag %q unchanged by an overwrite", first.ETag)
	}
	// Same size and mtime: the ETag must still move.
	a := attrsFor(0o644, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
	x := mustPut(t, s, "k", "aaa", a)
	y := mustPut(t, s, "k", "bbb", a)
	if x.ETag == y.ETag {
		t.Errorf("ETag %q unchanged by an overwrite of equal size and mtime", x.ETag)
	}
	if st := mustStat(t, s, "k"); st.ETag != y.ETag {
		t.Errorf("Stat ETag %q, Put returned %q", st.ETag, y.ETag)
	}
}

func testPutShortBody(t *testing.T, s backend.Store, _ Options) {
	if _, err := s.Put(t.Context(), "short", strings.NewReader("12345"), 10, nil); err == nil {
		t.Fatal("Put of a body shorter than size succeeded")
	}
	wantNotExist(t, s, "short")
	mustPut(t, s, "short", "old", nil)
	if _, err := s.Put(t.Context(), "short", strings.NewReader("new"), 10, nil); err == nil {
		t.Fatal("Put of a body shorter than size succeeded")
	}
	if got := mustGet(t, s, "short"); got != "old" {
		t.Errorf("failed Put left %q, want the old body", got)
	}
	if _, err := s.Put(t.Context(), "neg", strings.NewReader(""), -1, nil); err == nil {
		t.Error("Put with negative size succeeded")
	}
	// Bytes past size are not stored.
	if _, err := s.Put(t.Context(), "long", strings.NewReader("abcdef"), 3, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "long"); got != "abc" {
		t.Errorf("Get = %q, want %q", got, "abc")
	}
}

func testPutRewinds(t *testing.T, s backend.Store, _ Options) {
	if _, err := s.Put(t.Context(), "rw", seekEnd("rewound"), 7, nil); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, s, "rw"); got != "rewound" {
		t.Errorf("Get = %q; Put did not seek the reader to the start", got)
	}
}

func testAttrs(t *testing.T, s backend.Store, opts Options) {
	mtime := time.Date(2021, 6, 7, 8, 9, 10, 123456789, time.UTC)
	fa := attrsFor(fs.ModeSetuid|fs.ModeSetgid|0o750, mtime)
	oi := mustPut(t, s, "d/f", "x", fa)
	checkAttrs(t, "Put", oi.Attrs, fa, opts)
	checkAttrs(t, "Stat", mustStat(t, s, "d/f").Attrs, fa, opts)

	da := attrsFor(fs.ModeDir|fs.ModeSticky|0o775, mtime.Add(time.Hour))
	mustPut(t, s, "d/", "", da)
	checkAttrs(t, "Stat marker", mustStat(t, s, "d/").Attrs, da, opts)

	seen := 0
	err := s.List(t.Context(), backend.ListOptions{Prefix: "d/"}, func(oi backend.ObjectInfo) error {
		switch oi.Key {
		case "d/":
			checkAttrs(t, "List marker", oi.Attrs, da, opts)
		case "d/f":
			checkAttrs(t, "List file", oi.Attrs, fa, opts)
		}
		seen++
		return nil
	})
	if err != nil || seen != 2 {
		t.Errorf("List saw %d keys, err %v", seen, err)
	}

	// Attrs are replaced with the object.
	fb := attrsFor(0o600, mtime.Add(-time.Hour))
	mustPut(t, s, "d/f", "y", fb)
	checkAttrs(t, "Stat after overwrite", mustStat(t, s, "d/f").Attrs, fb, opts)
}

func testSymlink(t *testing.T, s backend.Store, opts Options) {
	mtime := time.Date(2019, 1, 1, 0, 0, 0, 5e8, time.UTC)
	a := attrsFor(fs.ModeSymlink|0o777, mtime)
	const target = "../elsewhere/target file"
	oi := mustPut(t, s, "dir/link", target, a)
	checkAttrs(t, "Put", oi.Attrs, a, opts)
	st := mustStat(t, s, "dir/link")
	checkAttrs(t, "Stat", st.Attrs, a, opts)
	if st.Size != int64(len(target)) {
		t.Errorf("Stat size %d, want %d", st.Size, len(target))
	}
	if got := mustGet(t, s, "dir/link"); got != target {
		t.Errorf("Get = %q, want the target %q", got, target)
	}
	if got, err := get(t, s, "dir/link", 3, 9); err != nil || got != "elsewhere" {
		t.Errorf("ranged Get = %q, %v", got, err)
	}
	// Replacing a symlink with a file replaces the link, not its target.
	mustPut(t, s, "dir/link", "now a file", nil)
	if got := mustGet(t, s, "dir/link"); got != "now a file" {
		t.Errorf("Get = %q", got)
	}
}

func testMarkers(t *testing.T, s backend.Store, opts Options) {
	oi := mustPut(t, s, "d/", "", nil)
	if oi.Key != "d/" || oi.Size != 0 {
		t.Errorf("Put marker = %+v", oi)
	}
	if st := mustStat(t, s, "d/"); st.Size != 0 || st.Prefix {
		t.Errorf("Stat marker = %+v", st)
	}
	mustPut(t, s, "d/", "", nil) // idempotent
	wantNotExist(t, s, "d")      // keys are exact
	mustPut(t, s, "f", "file", nil)
	wantNotExist(t, s, "f/")
	if _, err := s.Put(t.Context(), "e/", strings.NewReader("body"), 4, nil); err == nil {
		t.Error("Put of a marker with a body succeeded")
	}
	if opts.RealDirectories {
		mustPut(t, s, "p/q/r", "deep", nil)
		mustStat(t, s, "p/")
		mustStat(t, s, "p/q/")
	}
}

func testDelete(t *testing.T, s backend.Store, opts Options) {
	mustPut(t, s, "x/k", "v", nil)
	for range 2 {
		if err := s.Delete(t.Context(), "x/k"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		wantNotExist(t, s, "x/k")
	}
	if err := s.Delete(t.Context(), "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	mustPut(t, s, "m/", "", nil)
	mustPut(t, s, "m/f", "v", nil)
	if err := s.Delete(t.Context(), "m"); err != nil {
		t.Errorf("Delete(m) with only m/ there: %v", err)
	}
	mustStat(t, s, "m/")
	if opts.RealDirectories {
		err := s.Delete(t.Context(), "m/")
		if !errors.Is(err, backend.ErrNotEmpty) {
			t.Errorf("Delete of a non-empty marker = %v, want ErrNotEmpty", err)
		}
		mustStat(t, s, "m/")
		mustStat(t, s, "m/f")
	}
	if err := s.Delete(t.Context(), "m/f"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "m/"); err != nil {
		t.Fatalf("Delete of an empty marker: %v", err)
	}
	wantNotExist(t, s, "m/")
	if err := s.Delete(t.Context(), "m/"); err != nil {
		t.Errorf("Delete of a missing marker: %v", err)
	}
}

func testMissing(t *testing.T, s backend.Store, _ Options) {
	mustPut(t, s, "file", "v", nil)
	for _, key := range []string{"nope", "nope/", "no/such/key", "file/below"} {
		wantNotExist(t, s, key)
		if _, err := get(t, s, key, 0, -1); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Get(%q) = %v, want fs.ErrNotExist", key, err)
		}
	}
}
