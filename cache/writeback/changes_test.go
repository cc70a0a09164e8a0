package writeback

import (
	"bytes"
	"io/fs"
	"testing"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// TestEnqueueRecords checks the journal's keys and values as stored:
// they are an on-disk format.
func TestEnqueueRecords(t *testing.T) {
	db, err := ns.Open(t.TempDir(), ns.Options{
		Root:            &ns.Inode{Ino: ns.RootIno, Gen: 1, Mode: fs.ModeDir | 0o755, Nlink: 2},
		CheckpointEvery: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ops := []Op{{Kind: Put, Ino: 7, Key: "a"}, {Kind: Rename, Ino: 7, Key: "a", Key2: "b"}}
	var ch Changes
	err = db.Update(func(tx *ns.Tx) error {
		for _, o := range ops {
			if err := ch.Enqueue(tx, o); err != nil {
				return err
			}
		}
		n := &ns.Inode{Ino: 7, Size: 5}
		return ch.SetDirty(tx, n)
	})
	if err != nil {
		t.Fatal(err)
	}
	if ch.enqueued != 2 || len(ch.puts) != 1 || ch.dirtied[7] != 5 {
		t.Fatalf("changes %+v", ch)
	}
	err = db.View(func(tx *ns.Tx) error {
		i := 0
		err := tx.Journal.ForEach(func(k, v []byte) error {
			wantKey := []byte{0, 0, 0, 0, 0, 0, 0, byte(i + 1)}
			if !bytes.Equal(k, wantKey) || !bytes.Equal(v, ops[i].Marshal()) {
				t.Errorf("record %d: %x = %x", i, k, v)
			}
			i++
			return nil
		})
		if i != len(ops) {
			t.Errorf("%d records", i)
		}
		if tx.Dirty.Get(ns.InoKey(7)) == nil {
			t.Error("dirty mark missing")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
