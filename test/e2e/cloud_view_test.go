package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
)

// fileSum is a file's size and SHA-256.
type fileSum struct {
	size int64
	sum  [32]byte
}

func sumOf(b []byte) fileSum { return fileSum{int64(len(b)), sha256.Sum256(b)} }

func (f fileSum) String() string { return fmt.Sprintf("%d bytes sha256 %x", f.size, f.sum[:6]) }

// tree is a snapshot of a namespace: files by path with their sums, and
// directories. Paths are slash separated, relative, without a leading
// slash.
type tree struct {
	files map[string]fileSum
	dirs  map[string]bool
	// temps counts leftover temporary files of interrupted uploads
	// (backend.TempPrefix), which no listing shows.
	temps []string
}

func newTree() tree { return tree{files: map[string]fileSum{}, dirs: map[string]bool{}} }

func (tr tree) add(p string, data []byte) { tr.files[p] = sumOf(data) }

// diff lists the differences between got and want, sorted.
func diff(got, want tree) []string {
	var out []string
	for p, w := range want.files {
		g, ok := got.files[p]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("missing file %s (%v)", p, w))
		case g != w:
			out = append(out, fmt.Sprintf("file %s has %v, want %v", p, g, w))
		}
	}
	for p, g := range got.files {
		if _, ok := want.files[p]; !ok {
			out = append(out, fmt.Sprintf("unexpected file %s (%v)", p, g))
		}
	}
	for d := range want.dirs {
		if !got.dirs[d] {
			out = append(out, "missing directory "+d)
		}
	}
	for d := range got.dirs {
		if !want.dirs[d] {
			out = append(out, "unexpected directory "+d)
		}
	}
	sort.Strings(out)
	return out
}

// cloud is direct access to a backend, as another tool (a cloud-side
// pipeline, a person in the S3 console) has it: what the gateway put
// there, and changes behind the gateway's back.
type cloud interface {
	// write stores data at key, as another tool would: no POSIX
	// metadata of ours.
	write(t testing.TB, key string, data []byte)
	remove(t testing.TB, key string)
	// read returns the object at key, or an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	read(key string) ([]byte, error)
	// mode returns the permission bits the backend records for key.
	mode(t testing.TB, key string) fs.FileMode
	// tree returns everything in the backend.
	tree(t testing.TB) tree
}

// posixCloud is a POSIX backend folder, seen with plain file system
// calls.
type posixCloud struct{ root string }

func (c posixCloud) write(t testing.TB, key string, data []byte) {
	t.Helper()
	p := filepath.Join(c.root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func (c posixCloud) remove(t testing.TB, key string) {
	t.Helper()
	if err := os.Remove(filepath.Join(c.root, filepath.FromSlash(key))); err != nil {
		t.Fatal(err)
	}
}

func (c posixCloud) read(key string) ([]byte, error) {
	return os.ReadFile(filepath.Join(c.root, filepath.FromSlash(key)))
}

func (c posixCloud) mode(t testing.TB, key string) fs.FileMode {
	t.Helper()
	st, err := os.Lstat(filepath.Join(c.root, filepath.FromSlash(key)))
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func (c posixCloud) tree(t testing.TB) tree {
	t.Helper()
	tr := newTree()
	err := filepath.WalkDir(c.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(c.root, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		switch {
		case strings.HasPrefix(d.Name(), backend.TempPrefix):
			tr.temps = append(tr.temps, rel)
		case d.IsDir():
			tr.dirs[rel] = true
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			tr.add(rel, b)
		default:
			return fmt.Errorf("%s: unexpected file type %v", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk backend folder: %v", err)
	}
	return tr
}

// s3Cloud is a bucket, seen through a backend/s3 Store of its own.
// Directories are the markers "dir/".
type s3Cloud struct{ store *s3.Store }

func (c s3Cloud) write(t testing.TB, key string, data []byte) {
	t.Helper()
	if _, err := c.store.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), nil); err != nil {
		t.Fatal(err)
	}
}

func (c s3Cloud) remove(t testing.TB, key string) {
	t.Helper()
	if err := c.store.Delete(context.Background(), key); err != nil {
		t.Fatal(err)
	}
}

func (c s3Cloud) read(key string) ([]byte, error) {
	body, err := c.store.Get(context.Background(), key, 0, -1, "")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}

func (c s3Cloud) mode(t testing.TB, key string) fs.FileMode {
	t.Helper()
	info, err := c.store.Stat(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if info.Attrs == nil {
		t.Fatalf("%s carries no POSIX attributes", key)
	}
	return info.Attrs.Mode.Perm()
}

func (c s3Cloud) tree(t testing.TB) tree {
	t.Helper()
	tr := newTree()
	var keys []string
	err := c.store.List(context.Background(), backend.ListOptions{}, func(o backend.ObjectInfo) error {
		keys = append(keys, o.Key)
		return nil
	})
	if err != nil {
		t.Fatalf("list bucket: %v", err)
	}
	for _, k := range keys {
		if strings.HasSuffix(k, "/") {
			tr.dirs[strings.TrimSuffix(k, "/")] = true
			continue
		}
		b, err := c.read(k)
		if err != nil {
			t.Fatalf("get %s: %v", k, err)
		}
		tr.add(k, b)
	}
	return tr
}

// backendKinds are the backends every in-process test runs on.
var backendKinds = []string{"posix", "s3"}

// openBackend makes an empty backend of kind: a POSIX store on a
// temporary folder, or a fresh bucket of the shared versitygw server
// (the test skips without versitygw, unless FILEGATE_TEST_NO_SKIP=1).
// It returns the store for the gateway and a view of it for the test.
func openBackend(t testing.TB, kind string) (backend.Store, cloud) {
	t.Helper()
	switch kind {
	case "posix":
		root := t.TempDir()
		cfg := posix.DefaultConfig()
		cfg.Root = root
		s, err := posix.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s, posixCloud{root}
	case "s3":
		cfg := s3test.Shared(t).NewBucket(t)
		s := s3test.Open(t, cfg)
		// The view gets a store of its own, so its requests are not
		// counted or faulted with the gateway's.
		return s, s3Cloud{s3test.Open(t, cfg)}
	}
	t.Fatalf("unknown backend %q", kind)
	return nil, nil
}

// isNotExist reports a missing object from either view.
func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// parentDirs adds every parent directory of the paths in tr.files to
// tr.dirs, for expected trees written as file lists.
func (tr tree) parentDirs() tree {
	for p := range tr.files {
		for d := path.Dir(p); d != "."; d = path.Dir(d) {
			tr.dirs[d] = true
		}
	}
	return tr
}
