package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func readFile(t *testing.T, fsys FS, name string) (string, error) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return "", err
	}
	defer f.Close()
	buf := make([]byte, 64)
	got, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return string(buf[:got]), nil
}

func writeFile(t *testing.T, fsys FS, name, content string, sync bool) {
	t.Helper()
	f, err := fsys.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(content), 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestMemCrashKeepsWhatWasSynced: a power cut keeps a file's data as of
// its last Sync, and a name only once its folder was synced since it
// was made (or removed).
func TestMemCrashKeepsWhatWasSynced(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d/sub", 0o700); err != nil {
		t.Fatal(err)
	}
	if got := m.CrashClone(); true {
		if _, err := got.Stat("/d"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("a folder never synced into its parent survives: %v", err)
		}
	}
	for _, d := range []string{"/", "/d"} {
		if err := SyncDir(m, d); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, m, "/d/synced", "one", true)
	writeFile(t, m, "/d/unsynced", "two", false)
	writeFile(t, m, "/d/sub/nameless", "three", true) // /d/sub never synced
	if err := SyncDir(m, "/d"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, m, "/d/synced", "ONE MORE", false)
	writeFile(t, m, "/d/late", "four", true) // its name is not durable
	if err := m.Link("/d/synced", "/d/linked"); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove("/d/unsynced"); err != nil {
		t.Fatal(err)
	}

	c := m.CrashClone()
	for name, want := range map[string]string{"/d/synced": "one", "/d/unsynced": ""} {
		if got, err := readFile(t, c, name); err != nil || got != want {
			t.Errorf("%s after the crash: %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"/d/late", "/d/linked", "/d/sub/nameless"} {
		if _, err := c.Stat(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s after the crash: %v, want it missing", name, err)
		}
	}
	// m itself is unchanged by the clone, and the clone is a file
	// system of its own.
	if got, _ := readFile(t, m, "/d/linked"); got != "ONE MORE" {
		t.Fatalf("the original reads %q", got)
	}
	writeFile(t, c, "/d/synced", "clone", true)
	if got, _ := readFile(t, m, "/d/synced"); got != "ONE MORE" {
		t.Fatalf("the clone wrote into the original: %q", got)
	}

	// Once the folder is synced, links and removals are durable too.
	if err := SyncDir(m, "/d"); err != nil {
		t.Fatal(err)
	}
	c = m.CrashClone()
	if _, err := c.Stat("/d/unsynced"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a removed file survives a synced folder: %v", err)
	}
	for _, name := range []string{"/d/linked", "/d/synced"} {
		if got, err := readFile(t, c, name); err != nil || got != "one" {
			t.Errorf("%s after the second crash: %q, %v", name, got, err)
		}
	}
	// The two names are one file in the clone too.
	writeFile(t, c, "/d/linked", "shared", false)
	if got, _ := readFile(t, c, "/d/synced"); got != "shared" {
		t.Errorf("a link became a copy: %q", got)
	}
}

// TestMemCapacity: past its capacity Mem fails writes with ENOSPC, and
// removing a file frees its bytes once no File holds it open.
func TestMemCapacity(t *testing.T) {
	m := NewMem()
	m.SetCapacity(10)
	f, err := m.OpenFile("/big", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 8), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4), 8); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past the capacity: %v", err)
	}
	if err := f.Truncate(11); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("truncate past the capacity: %v", err)
	}
	if m.Used() != 8 {
		t.Fatalf("a failed write used space: %d", m.Used())
	}
	if err := m.Remove("/big"); err != nil {
		t.Fatal(err)
	}
	if m.Used() != 8 {
		t.Fatal("an open file's bytes were freed")
	}
	f.Close()
	if m.Used() != 0 {
		t.Fatalf("%d bytes used after the last close", m.Used())
	}
	writeFile(t, m, "/small", "0123456789", false)
}
