package cache

import (
	"context"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/cache/writeback"
)

// wbHost is the cache as the write-back room sees it (writeback.Host).
type wbHost struct{ c *Cache }

var _ writeback.Host = wbHost{}

func (h wbHost) View(fn func(writeback.Tx) error) error {
	return h.c.view(func(t *txn) error { return fn(wbTx{t}) })
}

func (h wbHost) Update(fn func(writeback.Tx) error) error {
	return h.c.update(func(t *txn) error { return fn(wbTx{t}) })
}

func (h wbHost) OpenData(ino Ino) (vfs.File, error) {
	return h.c.files.Open(ino)
}

func (h wbHost) CommitPending() {
	h.c.storeAllPending()
	h.c.unsynced.syncAll()
}

// wbTx is a cache transaction as the write-back sees it (writeback.Tx).
type wbTx struct{ t *txn }

func (w wbTx) NS() *ns.Tx                       { return w.t.Tx }
func (w wbTx) Changes() *writeback.Changes      { return &w.t.wb }
func (w wbTx) Inode(ino Ino) (*ns.Inode, error) { return w.t.get(ino) }
func (w wbTx) PutInode(n *ns.Inode) error       { return w.t.put(n) }
func (w wbTx) Unstable(ino Ino) (int64, bool) {
	p, ok := w.t.pending(ino)
	return p.writes, ok
}

// Flush uploads every change made so far, not waiting for files to
// settle, and returns once the backend has all of it, or ctx ends.
func (c *Cache) Flush(ctx context.Context) error { return c.wb.Flush(ctx) }
