package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// holdRecords keeps the settler away for the test, so records stay until
// it settles them itself.
func holdRecords(t *testing.T) {
	old := settleInterval
	settleInterval = time.Hour
	t.Cleanup(func() { settleInterval = old })
}

// crash stops c the way a power cut would find it: no pending writes
// stored, no records settled, nothing synced.
func crash(c *Cache) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.stop()
	c.refresh.Close()
	c.bg.Wait()
	c.files.Close()
	c.ns.Abandon()
}

// records returns the inodes with an inline record, and the format.
func records(t *testing.T, dir string) (map[Ino]string, uint64) {
	t.Helper()
	db := recoveredDB(t, dir)
	var got map[Ino]string
	var format uint64
	err := db.View(func(tx *bolt.Tx) error {
		got = map[Ino]string{}
		if v := tx.Bucket([]byte("meta")).Get(ns.KeyFormat); len(v) == 8 {
			format = beUint64(v)
		}
		inline := tx.Bucket([]byte("inline"))
		if inline == nil {
			return nil
		}
		return inline.ForEach(func(k, v []byte) error {
			got[Ino(beUint64(k))] = string(v[8:])
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, format
}

// txnRecords returns the inodes with an inline record in t.
func txnRecords(t *txn) (map[Ino]string, error) {
	got := map[Ino]string{}
	err := t.Inline.ForEach(func(k, v []byte) error {
		got[Ino(beUint64(k))] = string(v[8:])
		return nil
	})
	return got, err
}

// commitUnstable writes data at 0 as the kernel client does a small
// file (UNSTABLE WRITE, then COMMIT).
func commitUnstable(t *testing.T, c *Cache, ino Ino, data string) {
	t.Helper()
	ctx := context.Background()
	if _, _, err := c.WriteUnstable(ctx, ino, []byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, ino); err != nil {
		t.Fatal(err)
	}
}

// TestSmallCommitNeedsNoDataFile: a small file's COMMIT stores its
// content in the database and fsyncs no data file; after a crash that
// left its data file empty, missing or wrong, the start writes the
// content back.
func TestSmallCommitNeedsNoDataFile(t *testing.T) {
	holdRecords(t)
	dir := t.TempDir()
	s := memstore.New()
	c := newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	var files []Attr
	for _, name := range []string{"empty", "missing", "garbage"} {
		f := mustCreate(t, c, RootIno, name)
		commitUnstable(t, c, f.Ino, "first "+name)
		// A second COMMIT after more writes replaces the record.
		if _, _, err := c.WriteUnstable(context.Background(), f.Ino, []byte("SECOND"), 6); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Commit(context.Background(), f.Ino); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if n := c.Stats().DataSyncs; n != 0 {
		t.Fatalf("%d data file fsyncs for small commits", n)
	}
	// Nothing written since: a COMMIT has nothing to do.
	commits := c.Stats().Commits
	if _, err := c.Commit(context.Background(), files[0].Ino); err != nil {
		t.Fatal(err)
	}
	if got := c.Stats().Commits; got != commits {
		t.Fatalf("an idle COMMIT committed %d times", got-commits)
	}
	crash(c)

	recs, format := records(t, dir)
	if len(recs) != 3 || format != ns.FormatLog {
		t.Fatalf("after the crash: %d records, format %d", len(recs), format)
	}
	// What a power cut may leave of files never synced.
	paths := make([]string, len(files))
	for i, f := range files {
		paths[i] = c.files.Path(f.Ino)
	}
	if err := os.Truncate(paths[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(paths[1]); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(paths[2], []byte(strings.Repeat("?", 40)), 0o600); err != nil {
		t.Fatal(err)
	}

	c2 := newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	for i, name := range []string{"empty", "missing", "garbage"} {
		want := "first " + name
		want = want[:6] + "SECOND" + want[min(12, len(want)):]
		if got := readAll(t, c2, files[i].Ino); got != want {
			t.Errorf("%s after the crash: %q, want %q", name, got, want)
		}
	}
	c2.Close()
	if recs, format := records(t, dir); len(recs) != 0 || format != ns.Format {
		t.Fatalf("after a restart: %d records, format %d", len(recs), format)
	}
}

// TestSettle: the settler syncs the data files and deletes the records,
// except one a COMMIT replaced after it read it; the format goes back
// to the one every release reads.
func TestSettle(t *testing.T) {
	for _, n := range []int{1, 20} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			holdRecords(t)
			dir := t.TempDir()
			c := newSizedCache(t, dir, memstore.New(), nil)
			var files []Attr
			for i := range n {
				f := mustCreate(t, c, RootIno, fmt.Sprintf("a%d", i))
				commitUnstable(t, c, f.Ino, fmt.Sprintf("aaaa%d", i))
				files = append(files, f)
			}
			b := mustCreate(t, c, RootIno, "b")
			commitUnstable(t, c, b.Ino, "bbbb")
			var stamp uint64
			if err := c.view(func(t *txn) error {
				stamp = beUint64(t.Inline.Get(ns.InoKey(b.Ino)))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			commitUnstable(t, c, b.Ino, "BBBB") // a newer record of b
			if err := c.update(func(t *txn) error { return content.SettleInline(t.Tx, b.Ino, stamp) }); err != nil {
				t.Fatal(err)
			}
			if recs, _ := records0(t, c); len(recs) != n+1 || recs[b.Ino] != "BBBB" {
				t.Fatalf("before settling: %v", recs)
			}
			if err := c.inline.Settle(); err != nil {
				t.Fatal(err)
			}
			if recs, format := records0(t, c); len(recs) != 0 || format != ns.Format {
				t.Fatalf("after settling: records %v, format %d", recs, format)
			}
			fresh := 0
			for _, f := range append(files, b) {
				if c.files.Fresh(f.Ino) {
					fresh++
				}
			}
			if fresh != 0 {
				t.Fatalf("%d data files with names not synced", fresh)
			}
			crash(c)
			c2 := newSizedCache(t, dir, memstore.New(), nil)
			for i, f := range files {
				if got := readAll(t, c2, f.Ino); got != fmt.Sprintf("aaaa%d", i) {
					t.Fatalf("after a restart: %q", got)
				}
			}
			if got := readAll(t, c2, b.Ino); got != "BBBB" {
				t.Fatalf("after a restart: %q", got)
			}
		})
	}
}

// records0 is records of a running cache, with the format it would
// leave if closed now.
func records0(t *testing.T, c *Cache) (map[Ino]string, uint64) {
	t.Helper()
	var got map[Ino]string
	var format uint64
	err := c.view(func(t *txn) error {
		var err error
		got, err = txnRecords(t)
		// What ns.DB.Close stores: FormatInline while records are left.
		format = ns.Format
		if len(got) > 0 {
			format = ns.FormatInline
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return got, format
}

// TestRecordGoesWithItsContent: a record is dropped when the data file
// is synced under the inode's lock (a COMMIT of a file grown too large,
// a truncate) and when the content stops mattering (remove, evict). A
// record kept past any of these would, after a crash, write old content
// over newer.
func TestRecordGoesWithItsContent(t *testing.T) {
	holdRecords(t)
	ctx := context.Background()
	dir := t.TempDir()
	s := memstore.New()
	c := newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	grown := mustCreate(t, c, RootIno, "grown")
	commitUnstable(t, c, grown.Ino, "small")
	big := strings.Repeat("B", content.InlineMaxBytes+1)
	commitUnstable(t, c, grown.Ino, big)

	cut := mustCreate(t, c, RootIno, "cut")
	commitUnstable(t, c, cut.Ino, "0123456789")
	size := int64(4)
	if _, err := c.SetAttr(ctx, cut.Ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}

	gone := mustCreate(t, c, RootIno, "gone")
	commitUnstable(t, c, gone.Ino, "doomed")
	if _, err := c.Remove(ctx, RootIno, "gone"); err != nil {
		t.Fatal(err)
	}

	evicted := mustCreate(t, c, RootIno, "evicted")
	commitUnstable(t, c, evicted.Ino, "uploaded")
	if err := c.FlushIno(ctx, evicted.Ino, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.evict(evicted.Ino); err != nil {
		t.Fatal(err)
	}
	kept := mustCreate(t, c, RootIno, "kept")
	commitUnstable(t, c, kept.Ino, "kept")
	crash(c)

	recs, _ := records(t, dir)
	if len(recs) != 1 || recs[kept.Ino] != "kept" {
		t.Fatalf("records left: %v, want only kept's", recs)
	}
	c2 := newSizedCache(t, dir, s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	if got := readAll(t, c2, grown.Ino); got != big {
		t.Errorf("grown: %d bytes, want %d", len(got), len(big))
	}
	if got := readAll(t, c2, cut.Ino); got != "0123" {
		t.Errorf("cut: %q", got)
	}
	if got := readAll(t, c2, evicted.Ino); got != "uploaded" {
		t.Errorf("evicted: %q", got)
	}
	if got := readAll(t, c2, kept.Ino); got != "kept" {
		t.Errorf("kept: %q", got)
	}
}

// TestFormatOneStillOpens: a state folder of an earlier release (format
// 1, no inline bucket, no namespace log) opens and works, and a clean
// close leaves it in a format that release opens.
func TestFormatOneStillOpens(t *testing.T) {
	dir := t.TempDir()
	s := memstore.New()
	c := newSizedCache(t, dir, s, nil)
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "old")
	c.Close()
	db, err := bolt.Open(filepath.Join(dir, "namespace.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		// A release before inline records and the namespace log had
		// neither the bucket nor the log's keys.
		if err := tx.DeleteBucket([]byte("inline")); err != nil {
			return err
		}
		meta := tx.Bucket([]byte("meta"))
		for _, k := range [][]byte{[]byte("log-id"), []byte("log-applied")} {
			if err := meta.Delete(k); err != nil {
				return err
			}
		}
		return meta.Put(ns.KeyFormat, ns.InoKey(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Remove(filepath.Join(dir, "namespace.log")); err != nil {
		t.Fatal(err)
	}
	c2 := newSizedCache(t, dir, s, nil)
	if got := readAll(t, c2, f.Ino); got != "old" {
		t.Fatalf("read %q", got)
	}
	commitUnstable(t, c2, f.Ino, "new")
	if got := readAll(t, c2, f.Ino); got != "new" {
		t.Fatalf("read %q", got)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, format := records(t, dir); format != ns.Format {
		t.Fatalf("format %d after a clean close, want %d", format, ns.Format)
	}
}

// TestDataFolderMadeAgain: the data folders are made at start; one that
// went missing since is made again by the first create in it.
func TestDataFolderMadeAgain(t *testing.T) {
	c := newSizedCache(t, t.TempDir(), memstore.New(), nil)
	f := mustCreate(t, c, RootIno, "f")
	if err := os.Remove(filepath.Dir(c.files.Path(f.Ino))); err != nil {
		t.Fatal(err)
	}
	commitUnstable(t, c, f.Ino, "again")
	if got := readAll(t, c, f.Ino); got != "again" {
		t.Fatalf("read %q", got)
	}
}

// TestNewNameSyncedWithItsData: creating a data file syncs no folder;
// the sync that makes its data durable (a large COMMIT here) syncs its
// folder too, once.
func TestNewNameSyncedWithItsData(t *testing.T) {
	holdRecords(t)
	c := newSizedCache(t, t.TempDir(), memstore.New(), nil)
	f := mustCreate(t, c, RootIno, "f")
	if _, _, err := c.WriteUnstable(context.Background(), f.Ino, []byte(strings.Repeat("x", content.InlineMaxBytes+1)), 0); err != nil {
		t.Fatal(err)
	}
	fresh := func() bool { return c.files.Fresh(f.Ino) }
	if !fresh() {
		t.Fatal("a new data file is not marked for a folder sync")
	}
	if _, err := c.Commit(context.Background(), f.Ino); err != nil {
		t.Fatal(err)
	}
	if fresh() {
		t.Fatal("COMMIT synced the data file but not its folder")
	}
}
