package testutil

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DirInodes maps the inode numbers of the files in dir to their names,
// so a test can tell which file a link or rename put where.
func DirInodes(t testing.TB, dir string) map[uint64]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	inos := map[uint64]string{}
	for _, e := range ents {
		st, err := os.Stat(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		inos[st.Sys().(*syscall.Stat_t).Ino] = e.Name()
	}
	return inos
}

// CopyBolt opens a copy of the bbolt database at path: the file may be
// open, and locked, by the process under test.
func CopyBolt(t testing.TB, path string, readOnly bool) *bolt.DB {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cp, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: readOnly})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
