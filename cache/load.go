package cache

import (
	"context"
	"errors"
	"syscall"

	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/refresh"
	"github.com/filegate/filegate/cache/writeback"
)

// newRefresher returns the refresh room over c.
func (c *Cache) newRefresher() *refresh.Refresher {
	return refresh.New(refresh.Config{
		Host: refreshHost{c}, Store: c.store, DirTTL: c.cfg.DirTTL,
		DefaultFileMode: c.cfg.DefaultFileMode, DefaultDirMode: c.cfg.DefaultDirMode,
		DefaultUID: c.cfg.DefaultUID, DefaultGID: c.cfg.DefaultGID,
		Logger:           c.log,
		BeforeNewVersion: func(ino Ino) { c.hooks.at(hookNewVersion, ino) },
	})
}

// Refresh lists dir from the backend now, picking up changes made in
// the cloud by others.
func (c *Cache) Refresh(ctx context.Context, dir Ino) error {
	return wrap("refresh", "", c.refresh.Refresh(ctx, dir))
}

// refreshHost is the cache as the refresh room sees it (refresh.Host).
type refreshHost struct{ c *Cache }

var _ refresh.Host = refreshHost{}

func (h refreshHost) View(fn func(refresh.Tx) error) error {
	return h.c.view(func(t *txn) error { return fn(refreshTx{t, h.c}) })
}

func (h refreshHost) Update(fn func(refresh.Tx) error) error {
	return h.c.update(func(t *txn) error { return fn(refreshTx{t, h.c}) })
}

func (h refreshHost) DropStale(ino Ino) { h.c.dropStale(ino) }

// DropContent drops ino's local content when fn agrees, in the update
// that records what fn changed, under the data lock and inside a drop
// (drops.go), so no reader or writer takes the old content for the new.
func (h refreshHost) DropContent(ino Ino, fn func(t refresh.Tx, n *ns.Inode) bool) error {
	c := h.c
	mu := c.files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	end := c.beginDrop(ino)
	dropped := false
	defer func() { end(dropped) }()
	err := c.update(func(t *txn) error {
		dropped = false
		n, err := t.get(ino)
		if errors.Is(err, syscall.ESTALE) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		if !fn(refreshTx{t, c}, n) {
			return nil
		}
		n.Flags &^= ns.FlagLocal
		if err := t.putChunks(ino, nil); err != nil {
			return err
		}
		dropped = true
		return t.put(n)
	})
	if err != nil || !dropped {
		return err
	}
	c.forget(ino)
	return nil
}

// refreshTx is a cache transaction as the refresh room sees it
// (refresh.Tx).
type refreshTx struct {
	t *txn
	c *Cache
}

func (r refreshTx) NS() *ns.Tx                       { return r.t.Tx }
func (r refreshTx) Inode(ino Ino) (*ns.Inode, error) { return r.t.get(ino) }
func (r refreshTx) PutInode(n *ns.Inode) error       { return r.t.put(n) }
func (r refreshTx) Busy(n *ns.Inode) bool            { return r.c.busyWriting(r.t, n) }

func (r refreshTx) DeleteInode(ino Ino) error {
	if err := r.t.putChunks(ino, nil); err != nil {
		return err
	}
	return r.t.delete(ino)
}

func (r refreshTx) Dirty(fn func(Ino)) error {
	return r.t.Dirty.ForEach(func(k, _ []byte) error {
		fn(Ino(beUint64(k)))
		return nil
	})
}

func (r refreshTx) Pending(fn func(key string)) error {
	return r.t.Journal.ForEach(func(_, v []byte) error {
		o, err := writeback.Unmarshal(v)
		if err == nil {
			fn(o.Key)
			if o.Key2 != "" {
				fn(o.Key2)
			}
		}
		return err
	})
}
