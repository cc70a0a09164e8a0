package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// pendingAttr is what uncommitted unstable writes did to an inode: the
// size they grew it to and when. It overlays the stored record until
// Commit stores it, so every reader sees it at once.
type pendingAttr struct {
	size, mtime int64
	// writes counts the writes folded in, so Commit can tell whether
	// more came while it stored them.
	writes int64
}

func (p pendingAttr) apply(n *ns.Inode) {
	if !n.Mode.IsRegular() {
		return
	}
	n.Size = max(n.Size, p.size)
	if p.mtime > n.Mtime {
		n.Mtime, n.Ctime = p.mtime, max(n.Ctime, p.mtime)
	}
}

func (c *Cache) pendingOf(ino Ino) (pendingAttr, bool) {
	c.pendMu.Lock()
	defer c.pendMu.Unlock()
	p, ok := c.pendingWrites[ino]
	return p, ok
}

// WriteUnstable writes p at off like WriteAt, for an NFS UNSTABLE write:
// the data reaches the data file, but its new size and mtime are stored
// only at the next Commit, so a stream of writes costs no transaction
// each. Until then they show in every attribute read. After a crash the
// writes since the last Commit may be gone, as NFS allows for unstable
// writes (the server's write verifier tells clients to send them again).
// The first write to a clean file goes through WriteAt, so the file is
// durably dirty before any unstable data lands in it. It returns the
// bytes written and the attributes before and after, pending ones
// included.
func (c *Cache) WriteUnstable(ctx context.Context, ino Ino, p []byte, off int64) (int, Change, error) {
	return c.writeUnstable(ctx, ino, p, off, false)
}

// Write is an NFS WRITE in one call: WriteUnstable, after dropping
// setuid and setgid when o asks, then, when o asks for a stable write,
// Commit. Before is the attributes before all of it, After those the
// write left, which a Commit does not change.
func (c *Cache) Write(ctx context.Context, ino Ino, p []byte, off int64, o WriteOpts) (int, Change, error) {
	got, ch, err := c.writeUnstable(ctx, ino, p, off, o.KillSetID)
	if err == nil && o.Stable {
		err = c.commit(ino)
	}
	return got, ch, err
}

// writeUnstable is WriteUnstable, dropping setuid and setgid first when
// kill is set.
func (c *Cache) writeUnstable(ctx context.Context, ino Ino, p []byte, off int64, kill bool) (int, Change, error) {
	if off < 0 {
		return 0, Change{}, fmt.Errorf("cache: write at %d: %w", off, syscall.EINVAL)
	}
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	c.writers.Begin(ino)
	defer c.writers.End(ino)
	epoch := c.epochs.Watch(ino)
	defer c.epochs.Unwatch(ino)
	var ready bool
	var size int64
	var mode fs.FileMode
	var killed Change
	for {
		err := c.view(func(t *txn) error {
			n, err := t.get(ino)
			if err == nil {
				ready = n.Mode.IsRegular() && n.Has(ns.FlagLocal) && n.Has(ns.FlagDirty)
				size, mode = n.Size, n.Mode
			}
			return err
		})
		if err != nil {
			return 0, Change{}, wrap("write", "", err)
		}
		if !kill || !mode.IsRegular() || mode&(fs.ModeSetuid|fs.ModeSetgid) == 0 {
			break
		}
		m := mode & (fs.ModePerm | fs.ModeSticky)
		if mode&fs.ModeSetgid != 0 && mode&0o010 == 0 {
			m |= fs.ModeSetgid
		}
		if killed, err = c.SetAttr(ctx, ino, SetAttr{Mode: &m}); err != nil {
			return 0, Change{}, err
		}
		kill = false // and look again at the file, changed meanwhile
	}
	got, ch, err := c.writeUnstableReady(ctx, ino, p, off, epoch, ready, size)
	if killed.Before.Ino != 0 {
		ch.Before = killed.Before
	}
	return got, ch, err
}

// writeUnstableReady is the rest of writeUnstable, once it has looked at
// the file: ready when it is local and dirty, of size size then.
func (c *Cache) writeUnstableReady(ctx context.Context, ino Ino, p []byte, off int64, epoch uint64, ready bool, size int64) (int, Change, error) {
	if !ready {
		return c.WriteAt(ctx, ino, p, off)
	}
	c.hooks.at(hookUnstableReady, ino)
	end := off + int64(len(p))
	if err := c.dirty.Admit(ino, max(size, end)); err != nil {
		return 0, Change{}, err
	}
	// The file may have been uploaded (clean) since the check, never
	// dropped: a refresh leaves it alone while this write is registered
	// and, after it, while its size is pending.
	got, werr := c.writeData(ino, p, off, epoch)
	if errors.Is(werr, errContentDropped) {
		return c.WriteAt(ctx, ino, p, off)
	}
	if got == 0 {
		if werr != nil {
			return 0, Change{}, wrap("write", "", werr)
		}
		ch, err := c.unchanged(ino)
		return 0, ch, wrap("write", "", err)
	}
	ch, newSize := c.addPending(ino, size, off+int64(got))
	c.dirty.Note(ino, newSize)
	c.lru.Account(ino, newSize)
	c.touched(ino)
	c.stats.writes.Add(1)
	c.stats.writeBytes.Add(int64(got))
	return got, ch, wrap("write", "", werr)
}

// addPending folds a write of ino that ended at end, into a file of
// size size when the write looked, into its pending attributes. It
// returns them and the attributes before and after, read in the same
// critical section (the namespace's view lock, then pendMu, as every
// reader takes them), so no reader sees a state between the two.
func (c *Cache) addPending(ino Ino, size, end int64) (Change, int64) {
	var ch Change
	var newSize int64
	add := func(n *ns.Inode) {
		c.pendMu.Lock()
		defer c.pendMu.Unlock()
		pa := c.pendingWrites[ino]
		if n != nil {
			before := *n
			pa.apply(&before)
			ch.Before = attrOf(&before)
		}
		pa.size = max(pa.size, size, end)
		pa.mtime = time.Now().UnixNano()
		pa.writes++
		c.pendingWrites[ino] = pa
		newSize = pa.size
		if n != nil {
			pa.apply(n)
			ch.After = attrOf(n)
		}
	}
	added := false
	// The ns.Tx has no pending overlay: n is the stored record, which
	// add overlays itself. A view that cannot run (the namespace is
	// broken) still leaves the write pending, as the data is written.
	_ = c.ns.View(func(t *ns.Tx) error {
		added = true
		n, err := t.Get(ino)
		if err != nil {
			n = nil // removed meanwhile: no attributes
		}
		add(n)
		return nil
	})
	if !added {
		add(nil)
	}
	return ch, newSize
}

// storePending stores the pending size and mtime of ino as a content
// change (new version, dirty), so the uploader sends them.
func (c *Cache) storePending(ino Ino) error { return c.storePendingWith(ino, nil) }

// storePendingWith is storePending with also, in the same transaction,
// also (run even when nothing is pending).
func (c *Cache) storePendingWith(ino Ino, also func(t *txn) error) error {
	pa, ok := c.pendingOf(ino)
	if !ok && also == nil {
		return nil
	}
	err := c.update(func(t *txn) error {
		if also != nil {
			if err := also(t); err != nil {
				return err
			}
		}
		if !ok {
			return nil
		}
		n, err := t.get(ino) // already overlaid with pa
		if err != nil {
			return err
		}
		n.Version++
		if err := t.setDirty(n); err != nil {
			return err
		}
		return t.put(n)
	})
	if err != nil {
		if errors.Is(err, syscall.ESTALE) {
			c.dropPending(ino)
			return nil
		}
		return err
	}
	c.pendMu.Lock()
	if cur, found := c.pendingWrites[ino]; ok && found && cur.writes == pa.writes {
		delete(c.pendingWrites, ino)
	}
	c.pendMu.Unlock()
	return nil
}

func (c *Cache) dropPending(ino Ino) {
	c.pendMu.Lock()
	delete(c.pendingWrites, ino)
	delete(c.written, ino)
	c.pendMu.Unlock()
}

// storeAllPending stores every pending write, before a flush or close.
func (c *Cache) storeAllPending() {
	c.pendMu.Lock()
	inos := make([]Ino, 0, len(c.pendingWrites))
	for ino := range c.pendingWrites {
		inos = append(inos, ino)
	}
	c.pendMu.Unlock()
	for _, ino := range inos {
		if err := c.storePending(ino); err != nil {
			c.log.Error("store unstable writes", "op", "commit", "err", err)
		}
	}
}
