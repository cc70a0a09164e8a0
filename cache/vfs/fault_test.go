package vfs

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

// TestInjectNth: only the nth matching operation fails, with an error
// that errors.Is finds as the disk's own.
func TestInjectNth(t *testing.T) {
	writes := func(op Op) bool { return op.Kind == OpWrite }
	fsys := Inject(NewMem(), Nth(2, writes, syscall.EIO))
	f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, want := range []error{nil, syscall.EIO, nil} {
		_, err := f.WriteAt([]byte("x"), int64(i))
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("write %d: %v, want %v", i+1, err, want)
		}
		var pe *fs.PathError
		if want != nil && (!errors.As(err, &pe) || pe.Path != "/f") {
			t.Fatalf("write %d: %v names no path", i+1, err)
		}
	}
}

// TestInjectMatch: a predicate on the path fails the operations it
// picks, every time.
func TestInjectMatch(t *testing.T) {
	m := NewMem()
	fsys := Inject(m, Match(func(op Op) bool { return op.Changes() && op.Path == "/full" }, syscall.ENOSPC))
	if _, err := fsys.OpenFile("/full", os.O_RDWR|os.O_CREATE, 0o600); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create: %v", err)
	}
	if _, err := m.Stat("/full"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a failed create made the file: %v", err)
	}
	if err := fsys.Link("/other", "/full"); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("link: %v", err)
	}
	f, err := fsys.OpenFile("/other", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("fine"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestInjectCrashAtWrite: an injector that takes a CrashClone before
// the nth write sees only what was durable before it.
func TestInjectCrashAtWrite(t *testing.T) {
	m := NewMem()
	var clone *Mem
	fsys := Inject(m, InjectorFunc(func(op Op) error {
		if op.Kind == OpWrite && op.Off == 1 && clone == nil {
			clone = m.CrashClone()
			return syscall.EIO // and the power is off
		}
		return nil
	}))
	f, err := fsys.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := SyncDir(fsys, "/"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("a"), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("b"), 1); !errors.Is(err, syscall.EIO) {
		t.Fatalf("write at the crash: %v", err)
	}
	if got, err := readFile(t, clone, "/f"); err != nil || got != "a" {
		t.Fatalf("after the crash: %q, %v", got, err)
	}
}

// TestInjectPlacedSpare: operations on a placed spare reach the
// injector under the name it was placed at.
func TestInjectPlacedSpare(t *testing.T) {
	var paths []string
	fsys := Inject(NewMem(), InjectorFunc(func(op Op) error {
		if op.Kind == OpWrite {
			paths = append(paths, op.Path)
		}
		return nil
	}))
	s, err := CreateSpare(fsys, "/spare", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Place("/file")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	if len(paths) != 1 || paths[0] != "/file" {
		t.Fatalf("writes seen at %v", paths)
	}
}
