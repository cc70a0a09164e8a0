package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync"
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

// unstableWrites is the overlay of unstable writes not yet committed,
// and the inodes written since their last Commit. Its mu is a leaf,
// taken inside namespace views and updates.
type unstableWrites struct {
	mu sync.Mutex
	// pending holds the size and mtime of unstable writes not yet
	// committed (WriteUnstable).
	pending map[Ino]pendingAttr
	// written holds inodes whose data file changed since their last
	// Commit: a Commit of any other has nothing to do.
	written map[Ino]bool
}

func newUnstableWrites() *unstableWrites {
	return &unstableWrites{pending: map[Ino]pendingAttr{}, written: map[Ino]bool{}}
}

// of returns the unstable writes of ino not yet committed.
func (u *unstableWrites) of(ino Ino) (pendingAttr, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.pending[ino]
	return p, ok
}

// add folds a write of ino that ended at end, into a file of size size
// when the write looked, into its pending attributes. It returns the
// attributes before and after, and the new size, read in the same
// critical section (the namespace's view lock, then mu, as every reader
// takes them), so no reader sees a state between the two.
func (u *unstableWrites) add(db *ns.DB, ino Ino, size, end int64) (Change, int64) {
	var ch Change
	var newSize int64
	add := func(n *ns.Inode) {
		u.mu.Lock()
		defer u.mu.Unlock()
		pa := u.pending[ino]
		if n != nil {
			before := *n
			pa.apply(&before)
			ch.Before = attrOf(&before)
		}
		pa.size = max(pa.size, size, end)
		pa.mtime = time.Now().UnixNano()
		pa.writes++
		u.pending[ino] = pa
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
	_ = db.View(func(t *ns.Tx) error {
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

// stored forgets pa, the pending writes of ino that were just stored,
// unless more writes came meanwhile.
func (u *unstableWrites) stored(ino Ino, pa pendingAttr) {
	u.mu.Lock()
	if cur, found := u.pending[ino]; found && cur.writes == pa.writes {
		delete(u.pending, ino)
	}
	u.mu.Unlock()
}

// forget drops what is kept of ino: it was removed.
func (u *unstableWrites) forget(ino Ino) {
	u.mu.Lock()
	delete(u.pending, ino)
	delete(u.written, ino)
	u.mu.Unlock()
}

// inos returns the inodes with unstable writes not yet committed.
func (u *unstableWrites) inos() []Ino {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Collect(maps.Keys(u.pending))
}

// noteWritten notes that ino's data file changed since its last Commit.
func (u *unstableWrites) noteWritten(ino Ino) {
	u.mu.Lock()
	u.written[ino] = true
	u.mu.Unlock()
}

// takeWritten reports whether ino's data file changed since its last
// Commit, and clears the mark.
func (u *unstableWrites) takeWritten(ino Ino) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	w := u.written[ino]
	delete(u.written, ino)
	return w
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
	ch, newSize := c.unstable.add(c.ns, ino, size, off+int64(got))
	c.dirty.Note(ino, newSize)
	c.lru.Account(ino, newSize)
	c.wb.Touched(ino)
	c.stats.writes.Add(1)
	c.stats.writeBytes.Add(int64(got))
	return got, ch, wrap("write", "", werr)
}

// storePending stores the pending size and mtime of ino as a content
// change (new version, dirty), so the uploader sends them, with also,
// when set, in the same transaction (run even when nothing is pending).
func (c *Cache) storePending(ino Ino, also func(t *txn) error) error {
	pa, ok := c.unstable.of(ino)
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
			c.unstable.forget(ino)
			return nil
		}
		return err
	}
	if ok {
		c.unstable.stored(ino, pa)
	}
	return nil
}

// storeAllPending stores every pending write, before a flush or close.
func (c *Cache) storeAllPending() {
	for _, ino := range c.unstable.inos() {
		if err := c.storePending(ino, nil); err != nil {
			c.log.Error("store unstable writes", "op", "commit", "err", err)
		}
	}
}
