package cache

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
)

// Small files are made durable at Commit by the namespace database
// rather than by an fsync of their data file. A new file's fsync costs a
// filesystem journal commit (its name, its blocks), about what the whole
// create costs on a bare disk; a namespace update costs one fdatasync
// of the namespace log, a file already allocated. So Commit of a file of at most
// inlineMaxBytes copies its content into the `inline` bucket, in the
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
	// inlineMaxBytes is the largest file Commit keeps in the database.
	inlineMaxBytes = 64 << 10
	// inlineBudgetBytes bounds the content in records at once; past it
	// Commit fsyncs data files itself until the settler catches up.
	inlineBudgetBytes = 32 << 20
	// settleKick is how many bytes in records wake the settler before
	// its time.
	settleKick = inlineBudgetBytes / 4
)

// settleInterval is how often the settler runs. Tests that look at
// records before they are settled make it longer before New.
var settleInterval = time.Second

// putInline stores content as ino's committed content.
func (t *txn) putInline(ino Ino, stamp uint64, content []byte) error {
	if t.Counter(ns.KeyFormat) < ns.FormatInline {
		if err := t.Meta.Put(ns.KeyFormat, ns.InoKey(ns.FormatInline)); err != nil {
			return err
		}
	}
	v := make([]byte, 8, 8+len(content))
	binary.BigEndian.PutUint64(v, stamp)
	return t.Inline.Put(ns.InoKey(ino), append(v, content...))
}

// dropInline deletes ino's record, if any: its data file was synced
// under the inode's sync lock, or its content no longer matters.
func (t *txn) dropInline(ino Ino) error { return t.Inline.Delete(ns.InoKey(ino)) }

// settleInline deletes ino's record if it is still the one stamped
// stamp, whose data file has been synced since.
func (t *txn) settleInline(ino Ino, stamp uint64) error {
	v := t.Inline.Get(ns.InoKey(ino))
	if len(v) < 8 || binary.BigEndian.Uint64(v) != stamp {
		return nil
	}
	return t.dropInline(ino)
}

// inlineLeft returns the content bytes in records, and turns the format
// back to ns.Format when there are none (while the namespace is open, it
// stays ns.FormatLog: see ns.DB.Close).
func (t *txn) inlineLeft() (int64, error) {
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

// written notes that ino's data file changed since its last Commit.
func (c *Cache) noteWritten(ino Ino) {
	c.pendMu.Lock()
	c.written[ino] = true
	c.pendMu.Unlock()
}

// takeWritten reports whether ino's data file changed since its last
// Commit, and clears the mark.
func (c *Cache) takeWritten(ino Ino) bool {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	w := c.written[ino]
	delete(c.written, ino)
	return w
}

// commitData makes what was written to ino durable: as a record when
// the file is small, else by an fsync of its data file; then it stores
// unstable writes' size. The caller holds ino's sync lock.
func (c *Cache) commitData(ino Ino) error {
	var n *ns.Inode
	err := c.view(func(t *txn) (err error) {
		n, err = t.get(ino)
		return err
	})
	if errors.Is(err, syscall.ESTALE) {
		c.dropPending(ino)
		return nil
	}
	if err != nil {
		return err
	}
	if n.Mode.IsRegular() && n.Has(ns.FlagLocal) && n.Size <= inlineMaxBytes &&
		c.inlineBytes.Load()+n.Size <= inlineBudgetBytes {
		content, err := c.snapshot(ino, n.Size)
		if err != nil {
			return err
		}
		stamp := uint64(c.inlineStamp.Add(1))
		err = c.storePendingWith(ino, func(t *txn) error {
			if n, err := t.get(ino); err != nil || !n.Has(ns.FlagLocal) {
				return err // removed: ESTALE; evicted meanwhile: nothing to keep
			}
			return t.putInline(ino, stamp, content)
		})
		if err == nil && c.inlineBytes.Add(int64(8+len(content))) >= settleKick {
			select {
			case c.settleKick <- struct{}{}:
			default:
			}
		}
		return err
	}
	if err := c.syncData(ino); err != nil {
		return err
	}
	return c.storePendingWith(ino, func(t *txn) error { return t.dropInline(ino) })
}

// snapshot reads the first size bytes of ino's data file, fewer when the
// file is shorter (the rest reads as zeros).
func (c *Cache) snapshot(ino Ino, size int64) ([]byte, error) {
	of, err := c.files.Acquire(ino, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer c.files.Release(of)
	mu := c.dataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	buf := make([]byte, size)
	got, err := of.File.ReadAt(buf, 0)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return buf[:got], err
}

// runSettler settles records every settleInterval, or sooner when they
// pile up.
func (c *Cache) runSettler(ctx context.Context) {
	c.every(ctx, c.settleEvery, c.settleKick, func() {
		c.guard("settle", func() {
			if err := c.settle(); err != nil {
				c.log.Warn("sync small files committed in the database", "op", "settle", "err", err)
			}
		})
	})
}

// settle fsyncs the data files of the records there are and deletes the
// records no Commit replaced meanwhile.
func (c *Cache) settle() error {
	type rec struct {
		ino   Ino
		stamp uint64
	}
	var recs []rec
	stale := false
	err := c.view(func(t *txn) error {
		recs = recs[:0]
		cur := t.Inline.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			if len(k) == 8 && len(v) >= 8 {
				recs = append(recs, rec{Ino(beUint64(k)), binary.BigEndian.Uint64(v)})
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
	c.stats.fsyncs.Add(1)
	durable, first := c.files.SyncMany(inos)
	done := make(map[Ino]bool, len(durable))
	for _, ino := range durable {
		done[ino] = true
	}
	var left int64
	err = c.update(func(t *txn) (err error) {
		for _, r := range recs {
			if done[r.ino] {
				if err := t.settleInline(r.ino, r.stamp); err != nil {
					return err
				}
			}
		}
		left, err = t.inlineLeft()
		return err
	})
	if err != nil {
		return err
	}
	c.inlineBytes.Store(left)
	return first
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// restoreInline writes the content of every record back to its data
// file and syncs it, at start: the records are what a crash left of
// commits whose data files were never synced.
func (c *Cache) restoreInline() error {
	type rec struct {
		ino     Ino
		content []byte
	}
	var restore []rec
	var drop []Ino
	err := c.view(func(t *txn) error {
		cur := t.Inline.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			ino := Ino(beUint64(k))
			n, err := t.get(ino)
			if err != nil || len(v) < 8 || !n.Mode.IsRegular() || !n.Has(ns.FlagLocal) {
				drop = append(drop, ino)
				continue
			}
			restore = append(restore, rec{ino, append([]byte(nil), v[8:]...)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, r := range restore {
		p := c.files.Path(r.ino)
		if err := writeSynced(c.files.FS(), p, r.content); err != nil {
			return fmt.Errorf("cache: restore %s from the database: %w", p, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for d := range dirs {
		if err := vfs.SyncDir(c.files.FS(), d); err != nil {
			return fmt.Errorf("cache: %w", err)
		}
	}
	if len(restore)+len(drop) == 0 {
		return nil
	}
	err = c.update(func(t *txn) error {
		for _, r := range restore {
			if err := t.dropInline(r.ino); err != nil {
				return err
			}
		}
		for _, ino := range drop {
			if err := t.dropInline(ino); err != nil {
				return err
			}
		}
		_, err := t.inlineLeft()
		return err
	})
	if err == nil && len(restore) > 0 {
		c.log.Info("restored small files committed before a crash", "op", "recover", "bytes", len(restore))
	}
	return err
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
