package move_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/move"
	"github.com/filegate/filegate/internal/testutil"
)

// stores are the stores every test runs on: an object store without
// rename, a POSIX store with its atomic rename, and a POSIX store whose
// rename is hidden, so the emulation meets real directories.
var stores = []struct {
	name string
	new  func(t *testing.T) backend.Store
}{
	{"memstore", func(*testing.T) backend.Store { return memstore.New() }},
	{"posix", func(t *testing.T) backend.Store { return testutil.PosixStore(t) }},
	{"posix-copy", func(t *testing.T) backend.Store { return faultstore.New(testutil.PosixStore(t)) }},
}

func eachStore(t *testing.T, fn func(t *testing.T, s backend.Store)) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) { fn(t, st.new(t)) })
	}
}

func put(t *testing.T, s backend.Store, keys ...string) {
	t.Helper()
	for _, k := range keys {
		body := ""
		if !strings.HasSuffix(k, "/") {
			body = "body of " + k
		}
		if _, err := s.Put(t.Context(), k, strings.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatalf("Put(%q): %v", k, err)
		}
	}
}

func body(t *testing.T, s backend.Store, key string) string {
	t.Helper()
	rc, err := s.Get(t.Context(), key, 0, -1, "")
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(b)
}

func keys(t *testing.T, s backend.Store, prefix string) []string {
	t.Helper()
	var out []string
	if err := s.List(t.Context(), backend.ListOptions{Prefix: prefix, KeysOnly: true}, func(o backend.ObjectInfo) error {
		out = append(out, o.Key)
		return nil
	}); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	return out
}

func TestKeyFile(t *testing.T) {
	eachStore(t, func(t *testing.T, s backend.Store) {
		put(t, s, "a", "b")
		moved, err := move.Key(t.Context(), s, "a", "sub/c")
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		if got := body(t, s, "sub/c"); got != "body of a" {
			t.Errorf("moved body = %q", got)
		}
		if _, err := s.Stat(t.Context(), "a"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat of the old name = %v, want fs.ErrNotExist", err)
		}
		st, err := s.Stat(t.Context(), "sub/c")
		if err != nil {
			t.Fatal(err)
		}
		if moved.Key != "sub/c" || moved.ETag == "" || moved.ETag != st.ETag || moved.Size != st.Size {
			t.Errorf("Key returned %+v, the store holds %+v", moved, st)
		}
		// Over an existing key: it is replaced.
		if _, err := move.Key(t.Context(), s, "sub/c", "b"); err != nil {
			t.Fatalf("Key over a key: %v", err)
		}
		if got := body(t, s, "b"); got != "body of a" {
			t.Errorf("body after a move over a key = %q", got)
		}
	})
}

func TestKeyMissing(t *testing.T) {
	eachStore(t, func(t *testing.T, s backend.Store) {
		for _, from := range []string{"nope", "nope/"} {
			to := "x"
			if strings.HasSuffix(from, "/") {
				to = "x/"
			}
			moved, err := move.Key(t.Context(), s, from, to)
			if strings.HasSuffix(from, "/") && !isRenamer(s) {
				// Nothing listed under the prefix: nothing to move.
				if err != nil {
					t.Errorf("Key(%q) = %v, want nil", from, err)
				}
			} else if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Key(%q) = %v, want fs.ErrNotExist", from, err)
			}
			if moved != (backend.ObjectInfo{}) {
				t.Errorf("Key(%q) returned %+v", from, moved)
			}
		}
	})
}

func isRenamer(s backend.Store) bool {
	_, ok := s.(backend.Renamer)
	return ok
}

func TestKeyDirectory(t *testing.T) {
	eachStore(t, func(t *testing.T, s backend.Store) {
		put(t, s, "d/", "d/f", "d/sub/", "d/sub/g", "d/sub/deeper/", "d/sub/deeper/h", "dx")
		moved, err := move.Key(t.Context(), s, "d/", "e/")
		if err != nil {
			t.Fatalf("Key: %v", err)
		}
		if moved != (backend.ObjectInfo{}) {
			t.Errorf("Key of a directory returned %+v", moved)
		}
		want := []string{"e/", "e/f", "e/sub/", "e/sub/deeper/", "e/sub/deeper/h", "e/sub/g"}
		if got := keys(t, s, "e/"); !slices.Equal(got, want) {
			t.Errorf("keys after the move = %q, want %q", got, want)
		}
		if got := keys(t, s, "d/"); len(got) != 0 {
			t.Errorf("keys left under the old name: %q", got)
		}
		if got := body(t, s, "e/sub/deeper/h"); got != "body of d/sub/deeper/h" {
			t.Errorf("moved body = %q", got)
		}
		if got := body(t, s, "dx"); got != "body of dx" {
			t.Errorf("a key beside the directory = %q", got)
		}
	})
}

// TestTreeBatches moves a tree in batches of a few keys, with
// directories spanning batches.
func TestTreeBatches(t *testing.T) {
	move.SetBatchKeys(t, 4)
	eachStore(t, func(t *testing.T, s backend.Store) {
		testTree(t, s, 3, 5)
	})
}

// TestTreeManyKeys moves more keys than one batch of the real size.
func TestTreeManyKeys(t *testing.T) {
	testTree(t, memstore.New(), 3, 450)
}

// testTree moves big/ to new/ with Tree; big/ holds dirs directories,
// each with as many files as the argument files says.
func testTree(t *testing.T, s backend.Store, dirs, files int) {
	var want []string
	put(t, s, "big/")
	for d := range dirs {
		dir := fmt.Sprintf("big/d%d/", d)
		put(t, s, dir)
		want = append(want, "new/"+strings.TrimPrefix(dir, "big/"))
		for i := range files {
			k := fmt.Sprintf("%sf%04d", dir, i)
			put(t, s, k)
			want = append(want, "new/"+strings.TrimPrefix(k, "big/"))
		}
	}
	want = append(want, "new/")
	slices.Sort(want)
	if err := move.Tree(t.Context(), s, "big/", "new/"); err != nil {
		t.Fatalf("Tree: %v", err)
	}
	if got := keys(t, s, "new/"); !slices.Equal(got, want) {
		t.Errorf("moved %d keys, want %d", len(got), len(want))
	}
	if got := keys(t, s, "big/"); len(got) != 0 {
		t.Errorf("%d keys left under the old name", len(got))
	}
	last := fmt.Sprintf("d%d/f%04d", dirs-1, files-1)
	if got := body(t, s, "new/"+last); got != "body of big/"+last {
		t.Errorf("moved body = %q", got)
	}
}

// failStore fails the first call of op on key, then passes every call.
type failStore struct {
	backend.Store
	op, key string

	mu     sync.Mutex
	failed bool
}

var errInjected = errors.New("injected failure")

func (f *failStore) fail(op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed || op != f.op || key != f.key {
		return nil
	}
	f.failed = true
	return errInjected
}

func (f *failStore) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := f.fail("copy", src); err != nil {
		return backend.ObjectInfo{}, err
	}
	return f.Store.Copy(ctx, src, dst, attrs)
}

func (f *failStore) Delete(ctx context.Context, key string) error {
	if err := f.fail("delete", key); err != nil {
		return err
	}
	return f.Store.Delete(ctx, key)
}

// TestTreeResumes cuts a directory move short at each kind of request:
// every object stays in at least one place, and the same call again
// finishes the move.
func TestTreeResumes(t *testing.T) {
	tree := []string{"d/", "d/f", "d/sub/", "d/sub/g", "d/sub/h"}
	for _, fail := range []struct{ op, key string }{
		{"copy", "d/sub/g"}, {"delete", "d/sub/g"}, {"delete", "d/sub/"}, {"delete", "d/"},
	} {
		t.Run(fail.op+" "+fail.key, func(t *testing.T) {
			eachStore(t, func(t *testing.T, s backend.Store) {
				if isRenamer(s) {
					t.Skip("the store renames in one step")
				}
				put(t, s, tree...)
				fst := &failStore{Store: s, op: fail.op, key: fail.key}
				if err := move.Tree(t.Context(), fst, "d/", "e/"); !errors.Is(err, errInjected) {
					t.Fatalf("Tree = %v, want the injected failure", err)
				}
				for _, k := range tree {
					_, errOld := s.Stat(t.Context(), k)
					_, errNew := s.Stat(t.Context(), "e/"+strings.TrimPrefix(k, "d/"))
					if errOld != nil && errNew != nil {
						t.Errorf("%s is in neither place: %v; %v", k, errOld, errNew)
					}
				}
				if err := move.Tree(t.Context(), fst, "d/", "e/"); err != nil {
					t.Fatalf("Tree again: %v", err)
				}
				want := []string{"e/", "e/f", "e/sub/", "e/sub/g", "e/sub/h"}
				if got := keys(t, s, "e/"); !slices.Equal(got, want) {
					t.Errorf("keys after the move = %q, want %q", got, want)
				}
				if got := keys(t, s, "d/"); len(got) != 0 {
					t.Errorf("keys left under the old name: %q", got)
				}
			})
		})
	}
}

// TestKeyDeleteFails: the copy is made and reported with the failure of
// the delete, and the same call again completes the move.
func TestKeyDeleteFails(t *testing.T) {
	s := &failStore{Store: memstore.New(), op: "delete", key: "a"}
	put(t, s, "a")
	moved, err := move.Key(t.Context(), s, "a", "b")
	if !errors.Is(err, errInjected) || moved.Key != "b" || moved.ETag == "" {
		t.Fatalf("Key = %+v, %v; want the copy and the injected failure", moved, err)
	}
	again, err := move.Key(t.Context(), s, "a", "b")
	if err != nil || again.ETag == "" {
		t.Fatalf("Key again = %+v, %v", again, err)
	}
	if _, err := s.Stat(t.Context(), "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat of the old name = %v, want fs.ErrNotExist", err)
	}
	// Once moved, the move replayed finds no source.
	if _, err := move.Key(t.Context(), s, "a", "b"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Key replayed = %v, want fs.ErrNotExist", err)
	}
	if got := body(t, s, "b"); got != "body of a" {
		t.Errorf("moved body = %q", got)
	}
}

// goneStore removes a key just before it is copied, as a client of the
// store racing the move would.
type goneStore struct {
	backend.Store
	key string
}

func (g goneStore) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if src == g.key {
		if err := g.Store.Delete(ctx, src); err != nil {
			return backend.ObjectInfo{}, err
		}
	}
	return g.Store.Copy(ctx, src, dst, attrs)
}

// TestTreeKeyGone: a key listed but gone before its copy is skipped, not
// an error.
func TestTreeKeyGone(t *testing.T) {
	s := memstore.New()
	put(t, s, "d/", "d/f", "d/g")
	if err := move.Tree(t.Context(), goneStore{s, "d/f"}, "d/", "e/"); err != nil {
		t.Fatalf("Tree: %v", err)
	}
	if got, want := keys(t, s, ""), []string{"e/", "e/g"}; !slices.Equal(got, want) {
		t.Errorf("keys after the move = %q, want %q", got, want)
	}
}

// statless renames but fails every Stat.
type statless struct {
	backend.Store
	backend.Renamer
}

func (statless) Stat(context.Context, string) (backend.ObjectInfo, error) {
	return backend.ObjectInfo{}, errInjected
}

// TestKeyRenameUnknownVersion: a rename that worked is a success even
// when the new version cannot be read.
func TestKeyRenameUnknownVersion(t *testing.T) {
	p := testutil.PosixStore(t)
	put(t, p, "a")
	moved, err := move.Key(t.Context(), statless{p, p}, "a", "b")
	if err != nil || moved != (backend.ObjectInfo{}) {
		t.Fatalf("Key = %+v, %v; want zero and nil", moved, err)
	}
	if got := body(t, p, "b"); got != "body of a" {
		t.Errorf("moved body = %q", got)
	}
}
