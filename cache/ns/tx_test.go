package ns

import (
	"bytes"
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// TestLinks: the names of a hard-linked inode are recorded, found first
// by directory then name, and removed; on disk each is a key of the
// links bucket (ino, dir, name; big-endian) with an empty value, the
// layout every release reads.
func TestLinks(t *testing.T) {
	dir := t.TempDir()
	d := openTest(t, dir)
	first := func(ino Ino) (Ino, string, bool) {
		var p Ino
		var name string
		var ok bool
		if err := d.View(func(tx *Tx) error { p, name, ok = tx.FirstLink(ino); return nil }); err != nil {
			t.Fatal(err)
		}
		return p, name, ok
	}
	update := func(fn func(*Tx) error) {
		t.Helper()
		if err := d.Update(fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx *Tx) error {
		for _, l := range []struct {
			ino, dir Ino
			name     string
		}{{5, 2, "a"}, {5, 1, "b"}, {5, 1, "a"}, {4, 9, "x"}, {6, 1, "z"}} {
			if err := tx.PutLink(l.ino, l.dir, l.name); err != nil {
				return err
			}
		}
		return nil
	})
	if p, name, ok := first(5); !ok || p != 1 || name != "a" {
		t.Fatalf("FirstLink(5) = %d %q %v, want 1 \"a\"", p, name, ok)
	}
	update(func(tx *Tx) error { return tx.DeleteLink(5, 1, "a") })
	if p, name, ok := first(5); !ok || p != 1 || name != "b" {
		t.Fatalf("after a delete, FirstLink(5) = %d %q %v, want 1 \"b\"", p, name, ok)
	}
	update(func(tx *Tx) error {
		for _, name := range []string{"b", "missing"} {
			if err := tx.DeleteLink(5, 1, name); err != nil {
				return err
			}
		}
		return tx.DeleteLink(5, 2, "a")
	})
	if p, name, ok := first(5); ok {
		t.Fatalf("FirstLink(5) = %d %q with no name left", p, name)
	}
	if _, _, ok := first(7); ok {
		t.Fatal("FirstLink of an inode with no names succeeded")
	}
	if err := d.View(func(tx *Tx) error { return tx.PutLink(8, 1, "v") }); err == nil {
		t.Fatal("PutLink in a view succeeded")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(filepath.Join(dir, "namespace.db"), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var keys [][]byte
	err = db.View(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("links")).ForEach(func(k, v []byte) error {
			if len(v) != 0 {
				t.Errorf("link %x has value %x", k, v)
			}
			keys = append(keys, append([]byte{}, k...))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{
		[]byte("\x00\x00\x00\x00\x00\x00\x00\x04\x00\x00\x00\x00\x00\x00\x00\x09x"),
		[]byte("\x00\x00\x00\x00\x00\x00\x00\x06\x00\x00\x00\x00\x00\x00\x00\x01z"),
	}
	if len(keys) != len(want) || !bytes.Equal(keys[0], want[0]) || !bytes.Equal(keys[1], want[1]) {
		t.Fatalf("links on disk %x, want %x", keys, want)
	}
}
