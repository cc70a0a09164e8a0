package storetest

import (
	"io/fs"
	"slices"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

// testListPrefixAttrs: a delimited listing carries a subdirectory's own
// attributes, from its marker, and a bare prefix carries none.
func testListPrefixAttrs(t *testing.T, s backend.Store, opts Options) {
	mtime := time.Date(2022, 3, 4, 5, 6, 7, 0, time.UTC)
	da := attrsFor(fs.ModeDir|0o710, mtime)
	mustPut(t, s, "p/d/f", "x", nil)
	mustPut(t, s, "p/d/", "", da)
	if !opts.RealDirectories {
		mustPut(t, s, "p/bare/f", "x", nil) // no marker
	}
	seen := map[string]bool{}
	err := s.List(t.Context(), backend.ListOptions{Prefix: "p/", Delimiter: "/"}, func(oi backend.ObjectInfo) error {
		seen[oi.Key] = true
		switch oi.Key {
		case "p/d/":
			if !oi.Prefix {
				t.Errorf("%s: not a prefix", oi.Key)
			}
			checkAttrs(t, "List prefix with marker", oi.Attrs, da, opts)
		case "p/bare/":
			if !oi.Prefix || oi.Attrs != nil {
				t.Errorf("%s: Prefix %v Attrs %+v, want a prefix without attributes", oi.Key, oi.Prefix, oi.Attrs)
			}
		}
		if oi.Known {
			t.Errorf("%s: Known set without ListOptions.Known", oi.Key)
		}
		return nil
	})
	if err != nil || !seen["p/d/"] || !opts.RealDirectories && !seen["p/bare/"] {
		t.Errorf("List saw %v, err %v", seen, err)
	}
}

// testListKnown: with ListOptions.Known, an item is either read as
// without it or delivered Known, and Known carries the caller's ETag only
// where the listing shows the version the caller holds.
func testListKnown(t *testing.T, s backend.Store, _ Options) {
	held := map[string]backend.ObjectInfo{}
	for _, k := range []string{"k/same", "k/changed", "k/any", "k/unknown", "k/sub/x"} {
		held[k] = mustPut(t, s, k, "first "+k, nil)
	}
	held["k/sub/"] = mustPut(t, s, "k/sub/", "", nil)
	// Another writer changes one, keeping its size.
	time.Sleep(10 * time.Millisecond)
	mustPut(t, s, "k/changed", "other k/changed", nil)
	now := map[string]backend.ObjectInfo{}
	for _, k := range []string{"k/same", "k/changed", "k/any", "k/unknown"} {
		now[k] = mustStat(t, s, k)
	}

	var asked []string // unguarded: Known is never called concurrently
	knownFn := func(key string) (backend.Known, bool) {
		asked = append(asked, key)
		switch key {
		case "k/unknown":
			return backend.Known{}, false
		case "k/any":
			return backend.Known{AnyVersion: true}, true
		}
		h, ok := held[key]
		return backend.Known{Size: h.Size, ETag: h.ETag}, ok
	}
	var got []string
	err := s.List(t.Context(), backend.ListOptions{Prefix: "k/", Delimiter: "/", Known: knownFn}, func(oi backend.ObjectInfo) error {
		if oi.Key == "k/" {
			return nil // the marker stores with real directories list
		}
		got = append(got, oi.Key)
		switch {
		case oi.Prefix:
		case !oi.Known:
			if oi.ETag != now[oi.Key].ETag || oi.Size != now[oi.Key].Size {
				t.Errorf("%s read: ETag %q size %d, want %q %d as Stat says", oi.Key, oi.ETag, oi.Size, now[oi.Key].ETag, now[oi.Key].Size)
			}
		case oi.Key == "k/changed" && oi.ETag != "":
			t.Errorf("%s changed by another writer was delivered as the caller's version %q", oi.Key, oi.ETag)
		case oi.Key == "k/unknown":
			t.Errorf("%s delivered Known though Known did not know it", oi.Key)
		case oi.Key == "k/same" && oi.ETag != held[oi.Key].ETag:
			t.Errorf("%s Known with ETag %q, want the caller's %q", oi.Key, oi.ETag, held[oi.Key].ETag)
		}
		if oi.Known && oi.Size != now[oi.Key].Size {
			t.Errorf("%s Known with size %d, want the listing's %d", oi.Key, oi.Size, now[oi.Key].Size)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"k/any", "k/changed", "k/same", "k/sub/", "k/unknown"}
	if !slices.Equal(got, want) {
		t.Errorf("List with Known saw %q, want %q", got, want)
	}
	for _, k := range asked {
		if !slices.Contains(want, k) && k != "k/" {
			t.Errorf("Known asked about %q, which the listing does not hold", k)
		}
	}
}
