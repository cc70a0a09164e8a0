package cache

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// Small files are made durable at Commit by an inline record in the
// namespace database rather than by an fsync of their data file; the
// records, their rule and the settler's work are content.Inline's. The
// cache decides when a Commit writes one (commitData) and runs the
// settler.

// settleInterval is how often the settler runs. Tests that look at
// records before they are settled make it longer before New.
var settleInterval = time.Second

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
		c.unstable.forget(ino)
		return nil
	}
	if err != nil {
		return err
	}
	if n.Mode.IsRegular() && n.Has(ns.FlagLocal) && c.inline.Fits(n.Size) {
		data, err := c.files.ReadHead(ino, n.Size)
		if err != nil {
			return err
		}
		stamp := c.inline.NextStamp()
		err = c.storePending(ino, func(t *txn) error {
			if n, err := t.get(ino); err != nil || !n.Has(ns.FlagLocal) {
				return err // removed: ESTALE; evicted meanwhile: nothing to keep
			}
			return content.PutInline(t.Tx, ino, stamp, data)
		})
		if err == nil {
			c.inline.Added(len(data))
		}
		return err
	}
	if err := c.syncData(ino); err != nil {
		return err
	}
	return c.storePending(ino, func(t *txn) error { return t.dropInline(ino) })
}

// restoreInline writes the content of every inline record back to its
// data file and syncs it, at start (content.Inline.Restore).
func (c *Cache) restoreInline() error {
	restored, err := c.inline.Restore()
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if restored > 0 {
		c.log.Info("restored small files committed before a crash", "op", "recover", "files", restored)
	}
	return nil
}

// dropInline deletes ino's inline record, if any (content.DropInline).
func (t *txn) dropInline(ino Ino) error { return content.DropInline(t.Tx, ino) }
