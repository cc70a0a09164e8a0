package storetest

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

// Options describes what a store can do beyond the common contract.
type Options struct {
	// RealDirectories is set for stores whose markers are directories
	// (POSIX): putting a key makes its parents' markers exist, and
	// deleting a marker with keys below it fails with ErrNotEmpty.
	RealDirectories bool
	// MTimeGranularity is the largest error allowed in a stored mtime;
	// zero means a millisecond.
	MTimeGranularity time.Duration
}

// Run runs the suite with no optional capabilities.
func Run(t *testing.T, newStore func(t *testing.T) backend.Store) {
	RunWith(t, newStore, Options{})
}

// RunWith runs the suite; newStore returns an empty store for each test.
// Tests of Renamer and UsageReporter run when the store implements them.
func RunWith(t *testing.T, newStore func(t *testing.T) backend.Store, opts Options) {
	if opts.MTimeGranularity == 0 {
		opts.MTimeGranularity = time.Millisecond
	}
	tests := []struct {
		name string
		fn   func(*testing.T, backend.Store, Options)
	}{
		{"PutGetStat", testPutGetStat},
		{"GetRange", testGetRange},
		{"GetVersion", testGetVersion},
		{"Overwrite", testOverwrite},
		{"PutShortBody", testPutShortBody},
		{"PutRewinds", testPutRewinds},
		{"Attrs", testAttrs},
		{"Symlink", testSymlink},
		{"Markers", testMarkers},
		{"Delete", testDelete},
		{"Missing", testMissing},
		{"List", testList},
		{"ListStartAfter", testListStartAfter},
		{"ListPaging", testListPaging},
		{"ListCallbackError", testListCallbackError},
		{"ListLarge", testListLarge},
		{"ListPrefixAttrs", testListPrefixAttrs},
		{"ListKnown", testListKnown},
		{"Copy", testCopy},
		{"InvalidKeys", testInvalidKeys},
		{"LongKeys", testLongKeys},
		{"Cancelled", testCancelled},
		{"Concurrent", testConcurrent},
		{"AtomicPut", testAtomicPut},
		{"Rename", testRename},
		{"Move", testMove},
		{"Usage", testUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t), opts)
		})
	}
}

// mustPut stores body under key and returns what Put reported.
func mustPut(t *testing.T, s backend.Store, key, body string, attrs *backend.Attrs) backend.ObjectInfo {
	t.Helper()
	oi, err := s.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), attrs)
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if oi.Key != key || oi.Size != int64(len(body)) {
		t.Fatalf("Put(%q) = key %q size %d, want size %d", key, oi.Key, oi.Size, len(body))
	}
	return oi
}

func get(t *testing.T, s backend.Store, key string, off, length int64) (string, error) {
	t.Helper()
	rc, err := s.Get(t.Context(), key, off, length, "")
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	return string(b), err
}

func mustGet(t *testing.T, s backend.Store, key string) string {
	t.Helper()
	body, err := get(t, s, key, 0, -1)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return body
}

func mustStat(t *testing.T, s backend.Store, key string) backend.ObjectInfo {
	t.Helper()
	oi, err := s.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat(%q): %v", key, err)
	}
	if oi.Key != key {
		t.Fatalf("Stat(%q).Key = %q", key, oi.Key)
	}
	return oi
}

func wantNotExist(t *testing.T, s backend.Store, key string) {
	t.Helper()
	if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Stat(%q) = %v, want fs.ErrNotExist", key, err)
	}
}

// attrsFor returns attrs the suite can expect back: foreign owners only
// when running as root, since a store over a real filesystem cannot chown
// otherwise.
func attrsFor(mode fs.FileMode, mtime time.Time) *backend.Attrs {
	a := &backend.Attrs{Mode: mode, UID: uint32(os.Getuid()), GID: uint32(os.Getgid()), MTime: mtime}
	if os.Geteuid() == 0 {
		a.UID, a.GID = 1234, 5678
	}
	return a
}

func checkAttrs(t *testing.T, what string, got *backend.Attrs, want *backend.Attrs, opts Options) {
	t.Helper()
	if got == nil {
		t.Fatalf("%s: nil Attrs, want %+v", what, *want)
	}
	if got.Mode != want.Mode || got.UID != want.UID || got.GID != want.GID {
		t.Errorf("%s: Attrs mode %v uid %d gid %d, want %v %d %d", what, got.Mode, got.UID, got.GID, want.Mode, want.UID, want.GID)
	}
	if d := got.MTime.Sub(want.MTime).Abs(); d >= opts.MTimeGranularity {
		t.Errorf("%s: MTime %v, want %v (off by %v)", what, got.MTime, want.MTime, d)
	}
}

// seekEnd returns a reader over body already positioned at its end, as a
// reader left by a failed attempt would be.
func seekEnd(body string) io.ReadSeeker {
	r := bytes.NewReader([]byte(body))
	r.Seek(0, io.SeekEnd)
	return r
}
