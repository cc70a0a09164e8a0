package storetest

import (
	"errors"
	"io"
	"io/fs"
	"testing"

	"github.com/filegate/filegate/backend"
)

// testGetVersion: a Get naming the version it reads, by any ETag the
// store reported of it, reads that version while the key holds it, and
// fails with ErrChanged, returning no bytes, once the key holds other
// content, even of the same size.
func testGetVersion(t *testing.T, s backend.Store, _ Options) {
	ctx := t.Context()
	put := mustPut(t, s, "v", "version one", nil)
	var listed string
	err := s.List(ctx, backend.ListOptions{Prefix: "v"}, func(o backend.ObjectInfo) error {
		if o.Key == "v" {
			listed = o.ETag
		}
		return nil
	})
	if err != nil || listed == "" {
		t.Fatalf("List: ETag %q, %v", listed, err)
	}
	one := map[string]string{"Put": put.ETag, "Stat": mustStat(t, s, "v").ETag, "List": listed}
	getVersion := func(etag string, off, length int64) (string, error) {
		rc, err := s.Get(ctx, "v", off, length, etag)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	for from, etag := range one {
		if got, err := getVersion(etag, 2, 3); err != nil || got != "rsi" {
			t.Errorf("Get(off 2, length 3) of the version %s reported = %q, %v; want %q", from, got, err, "rsi")
		}
	}
	if got, err := getVersion("", 0, -1); err != nil || got != "version one" {
		t.Errorf("Get(any version) = %q, %v", got, err)
	}

	two := mustPut(t, s, "v", "version two", nil) // the same size
	for from, etag := range one {
		for _, r := range [][2]int64{{0, -1}, {8, 3}, {0, 0}} {
			if got, err := getVersion(etag, r[0], r[1]); !errors.Is(err, backend.ErrChanged) {
				t.Errorf("Get(off %d, length %d) of the version %s reported, after an overwrite = %q, %v; want ErrChanged",
					r[0], r[1], from, got, err)
			}
		}
	}
	if got, err := getVersion(two.ETag, 8, 3); err != nil || got != "two" {
		t.Errorf("Get of the new version = %q, %v", got, err)
	}
	if got, err := getVersion("", 0, -1); err != nil || got != "version two" {
		t.Errorf("Get(any version) after the overwrite = %q, %v", got, err)
	}

	if err := s.Delete(ctx, "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := getVersion(two.ETag, 0, -1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get of a deleted key's version = %v, want fs.ErrNotExist", err)
	}
}
