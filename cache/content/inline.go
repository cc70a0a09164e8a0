package content

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
)

// Small files are made durable at Commit by the namespace database
// rather than by an fsync of their data file. A new file's fsync costs a
// filesystem journal commit (its name, its blocks), about what the whole
// create costs on a bare disk; a namespace update costs one fdatasync
// of the namespace log, a file already allocated. So Commit of a file of at most
// InlineMaxBytes copies its content into the `inline` bucket, in the
// transaction that records its size, and fsyncs nothing else. The data
// file stays where reads and uploads find it. A background settler later
// fsyncs the data files of many such commits at once (one journal commit
// covers many new files) and deletes their records. At start, every
// record left by a crash is written back to its data file before
// anything else reads it.
//
// The rule: a record always holds all of its inode's committed content
// (zeros to the recorded size follow it), so the data file of an inode
// with a record may hold anything. A record is deleted only when the
// data file is known durable with everything the record holds: after an
// fsync that began after the record was committed (the settler checks
// the record's stamp; Commit and truncate hold the inode's sync lock, so
// no record of theirs races them), or when the content no longer matters
// (the inode is gone, or its content is no longer local).

const (
	// InlineMaxBytes is the largest file Commit keeps in the database.
	InlineMaxBytes = 64 << 10
	// InlineBudgetBytes bounds the content in records at once; past it
	// Commit fsyncs data files itself until the settler catches up.
	InlineBudgetBytes = 32 << 20
	// settleKickBytes is how many bytes in records wake the settler
	// before its time.
	settleKickBytes = InlineBudgetBytes / 4
)

// Inline keeps the records of small files' committed content and
// settles them: Settle syncs their data files and deletes the records.
// The cache writes a record at Commit (PutInline, in the transaction
// that stores the file's size) when Fits says so, and counts it with
// Added.
type Inline struct {
	db    *ns.DB
	files *Files
	// synced is called for each batch of fsyncs Settle makes, for the
	// cache's statistics.
	synced func()
	// bytes is about the bytes in records; stamp numbers the records
	// written.
	bytes, stamp atomic.Int64
	kick         chan struct{}
}

// NewInline returns the inline records of db, whose data files are in
// files. synced is called for each batch of fsyncs of Settle.
func NewInline(db *ns.DB, files *Files, synced func()) *Inline {
	return &Inline{db: db, files: files, synced: synced, kick: make(chan struct{}, 1)}
}

// Fits reports whether a file of size bytes may be committed as a
// record now: it is small and the records' budget has room.
func (in *Inline) Fits(size int64) bool {
	return size <= InlineMaxBytes && in.bytes.Load()+size <= InlineBudgetBytes
}

// NextStamp numbers a new record.
func (in *Inline) NextStamp() uint64 { return uint64(in.stamp.Add(1)) }

// Added counts a record of content bytes committed, and kicks the
// settler when records pile up.
func (in *Inline) Added(contentBytes int) {
	if in.bytes.Add(int64(8+contentBytes)) >= settleKickBytes {
		select {
		case in.kick <- struct{}{}:
		default:
		}
	}
}

// Kicked receives when the settler should run before its time.
func (in *Inline) Kicked() <-chan struct{} { return in.kick }

// PutInline stores content as ino's committed content.
func PutInline(t *ns.Tx, ino Ino, stamp uint64, content []byte) error {
	if t.Counter(ns.KeyFormat) < ns.FormatInline {
		if err := t.Meta.Put(ns.KeyFormat, ns.InoKey(ns.FormatInline)); err != nil {
			return err
		}
	}
	v := make([]byte, 8, 8+len(content))
	binary.BigEndian.PutUint64(v, stamp)
	return t.Inline.Put(ns.InoKey(ino), append(v, content...))
}

// DropInline deletes ino's record, if any: its data file was synced
// under the inode's sync lock, or its content no longer matters.
func DropInline(t *ns.Tx, ino Ino) error { return t.Inline.Delete(ns.InoKey(ino)) }

// SettleInline deletes ino's record if it is still the one stamped
// stamp, whose data file has been synced since.
func SettleInline(t *ns.Tx, ino Ino, stamp uint64) error {
	v := t.Inline.Get(ns.InoKey(ino))
	if len(v) < 8 || binary.BigEndian.Uint64(v) != stamp {
		return nil
	}
	return DropInline(t, ino)
}

// InlineLeft returns the content bytes in records, and turns the format
// back to ns.Format when there are none (while the namespace is open, it
// stays ns.FormatLog: see ns.DB.Close).
func InlineLeft(t *ns.Tx) (int64, error) {
	var left int64
	cur := t.Inline.Cursor()
	for k, v := cur.First(); k != nil; k, v = cur.Next() {
		left += int64(len(v))
	}
	if left == 0 && t.Counter(ns.KeyFormat) == ns.FormatInline {
		return 0, t.Meta.Put(ns.KeyFormat, ns.InoKey(ns.Format))
	}
	return left, nil
}

// Settle fsyncs the data files of the records there are and deletes the
// records no Commit replaced meanwhile.
func (in *Inline) Settle() error {
	type rec struct {
		ino   Ino
		stamp uint64
	}
	var recs []rec
	stale := false
	err := in.db.View(func(t *ns.Tx) error {
		recs = recs[:0]
		cur := t.Inline.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(k) == 8 && len(v) >= 8 {
				recs = append(recs, rec{Ino(binary.BigEndian.Uint64(k)), binary.BigEndian.Uint64(v)})
			}
		}
		stale = len(recs) == 0 && t.Counter(ns.KeyFormat) == ns.FormatInline
		return nil
	})
	if err != nil || (len(recs) == 0 && !stale) {
		return err
	}
	inos := make([]Ino, len(recs))
	for i, r := range recs {
		inos[i] = r.ino
	}
	in.synced()
	durable, first := in.files.SyncMany(inos)
	done := make(map[Ino]bool, len(durable))
	for _, ino := range durable {
		done[ino] = true
	}
	var left int64
	err = in.db.Update(func(t *ns.Tx) (err error) {
		for _, r := range recs {
			if done[r.ino] {
				if err := SettleInline(t, r.ino, r.stamp); err != nil {
					return err
				}
			}
		}
		left, err = InlineLeft(t)
		return err
	})
	if err != nil {
		return err
	}
	in.bytes.Store(left)
	return first
}

// Restore writes the content of every record back to its data file and
// syncs it, at start, before anything else reads the data files: the
// records are what a crash left of commits whose data files were never
// synced. It returns how many it restored.
func (in *Inline) Restore() (int, error) {
	type rec struct {
		ino     Ino
		content []byte
	}
	var restore []rec
	var drop []Ino
	err := in.db.View(func(t *ns.Tx) error {
		cur := t.Inline.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			ino := Ino(binary.BigEndian.Uint64(k))
			n, err := t.Get(ino)
			if err != nil || len(v) < 8 || !n.Mode.IsRegular() || !n.Has(ns.FlagLocal) {
				drop = append(drop, ino)
				continue
			}
			restore = append(restore, rec{ino, append([]byte(nil), v[8:]...)})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	dirs := map[string]bool{}
	for _, r := range restore {
		p := in.files.Path(r.ino)
		if err := writeSynced(in.files.fs, p, r.content); err != nil {
			return 0, fmt.Errorf("restore %s from the database: %w", p, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := vfs.SyncDir(in.files.fs, d); err != nil {
			return 0, err
		}
	}
	if len(restore)+len(drop) == 0 {
		return 0, nil
	}
	err = in.db.Update(func(t *ns.Tx) error {
		for _, r := range restore {
			if err := DropInline(t, r.ino); err != nil {
				return err
			}
		}
		for _, ino := range drop {
			if err := DropInline(t, ino); err != nil {
				return err
			}
		}
		_, err := InlineLeft(t)
		return err
	})
	return len(restore), err
}

// writeSynced makes the file at p hold exactly content, durably (its
// folder is synced by the caller).
func writeSynced(fsys vfs.FS, p string, content []byte) error {
	f, err := fsys.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(content, 0)
	if err == nil {
		err = f.Truncate(int64(len(content)))
	}
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
