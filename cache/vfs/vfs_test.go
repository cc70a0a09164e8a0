package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestConformance runs the same operations on the operating system's
// file system and on Mem, so that Mem answers as the disk does.
func TestConformance(t *testing.T) {
	t.Run("os", func(t *testing.T) { conformance(t, OS, t.TempDir()) })
	t.Run("mem", func(t *testing.T) { conformance(t, NewMem(), "/tmp/x") })
	t.Run("inject", func(t *testing.T) {
		conformance(t, Inject(NewMem(), InjectorFunc(func(Op) error { return nil })), "/tmp/x")
	})
}

func conformance(t *testing.T, fsys FS, dir string) {
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o700))
	must(fsys.MkdirAll(filepath.Join(dir, "a", "b"), 0o700))
	if err := fsys.Mkdir(filepath.Join(dir, "a"), 0o700); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("mkdir of an existing folder: %v", err)
	}
	p := filepath.Join(dir, "a", "f")
	if _, err := fsys.OpenFile(p, os.O_RDWR, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("open of a missing file: %v", err)
	}
	if _, err := fsys.OpenFile(filepath.Join(dir, "nope", "f"), os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in a missing folder: %v", err)
	}
	f, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	must(err)
	if _, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("exclusive create of an existing file: %v", err)
	}
	if _, err := f.WriteAt([]byte("hello"), 3); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	got, err := f.ReadAt(buf, 0)
	if got != 8 || err != io.EOF || string(buf[:got]) != "\x00\x00\x00hello" {
		t.Fatalf("read %d %v %q", got, err, buf[:got])
	}
	if got, err := f.ReadAt(buf, 20); got != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d %v", got, err)
	}
	must(f.Truncate(4))
	st, err := f.Stat()
	must(err)
	if st.Size() != 4 || st.IsDir() || st.Name() != "f" || !st.Mode().IsRegular() {
		t.Fatalf("stat: %d %v %q %v", st.Size(), st.IsDir(), st.Name(), st.Mode())
	}
	must(f.Sync())
	must(fsys.Truncate(p, 2))
	if st, err := fsys.Stat(p); err != nil || st.Size() != 2 {
		t.Fatalf("stat after truncate: %v %v", st, err)
	}
	q := filepath.Join(dir, "a", "b", "g")
	must(fsys.Link(p, q))
	if err := fsys.Link(p, q); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("link over an existing name: %v", err)
	}
	must(fsys.Remove(p))
	// The file lives on under its other name and through f.
	if _, err := f.WriteAt([]byte("!"), 2); err != nil {
		t.Fatal(err)
	}
	g, err := fsys.OpenFile(q, os.O_RDONLY, 0)
	must(err)
	got, err = g.ReadAt(buf[:3], 0)
	if got != 3 || string(buf[:3]) != "\x00\x00!" {
		t.Fatalf("read through the link: %d %v %q", got, err, buf[:got])
	}
	if _, err := g.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write to a file opened for reading")
	}
	must(g.Close())
	must(f.Close())
	if err := fsys.Remove(filepath.Join(dir, "a", "b")); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("remove of a full folder: %v", err)
	}
	if err := fsys.Remove(p); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove of a missing file: %v", err)
	}
	must(fsys.Mkdir(filepath.Join(dir, "a", "c"), 0o700))
	ents, err := fsys.ReadDir(filepath.Join(dir, "a"))
	must(err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		if !e.IsDir() {
			t.Errorf("%s is no folder", e.Name())
		}
	}
	if strings.Join(names, ",") != "b,c" {
		t.Fatalf("entries %v", names)
	}
	must(SyncDir(fsys, filepath.Join(dir, "a")))
	if _, err := fsys.OpenFile(filepath.Join(dir, "a"), os.O_RDWR, 0); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("open a folder for writing: %v", err)
	}
	s, err := CreateSpare(fsys, filepath.Join(dir, "a", "s1"), 0o600)
	must(err)
	if _, err := CreateSpare(fsys, filepath.Join(dir, "a", "s1"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("spare over an existing name: %v", err)
	}
	if _, err := s.Place(filepath.Join(dir, "a", "b", "g")); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("place over an existing name: %v", err)
	}
	h, err := s.Place(filepath.Join(dir, "a", "h"))
	must(err)
	if _, err := h.WriteAt([]byte("data"), 0); err != nil {
		t.Fatal(err)
	}
	must(h.Close())
	if st, err := fsys.Stat(filepath.Join(dir, "a", "s1")); err != nil || st.Size() != 4 {
		t.Fatalf("spare's own name after the write: %v %v", st, err)
	}
	must(fsys.RemoveAll(filepath.Join(dir, "a")))
	must(fsys.RemoveAll(filepath.Join(dir, "a")))
	if _, err := fsys.Stat(filepath.Join(dir, "a")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stat after removeall: %v", err)
	}
}

// TestOSSpareNamesThePlacedFile: a placed spare's errors name the file,
// not the spare.
func TestOSSpareNamesThePlacedFile(t *testing.T) {
	dir := t.TempDir()
	s, err := CreateSpare(OS, filepath.Join(dir, "spare"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Place(filepath.Join(dir, "file"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if name := f.(*os.File).Name(); name != filepath.Join(dir, "file") {
		t.Fatalf("placed spare named %q", name)
	}
}

// TestOSOpenFailsWithNilFile: a failed open returns a nil File, not a
// nil *os.File in one.
func TestOSOpenFailsWithNilFile(t *testing.T) {
	f, err := OS.OpenFile(filepath.Join(t.TempDir(), "missing"), os.O_RDWR, 0)
	if err == nil || f != nil {
		t.Fatalf("open of a missing file: %v, %v", f, err)
	}
}

// BenchmarkOSReadAt: a read through the interface allocates nothing.
func BenchmarkOSReadAt(b *testing.B) {
	f, err := OS.OpenFile(filepath.Join(b.TempDir(), "f"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	if _, err := f.WriteAt(buf, 0); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.ReadAt(buf, 0); err != nil {
			b.Fatal(err)
		}
	}
}
