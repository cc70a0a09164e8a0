package cache

import (
	"errors"
	"fmt"
	"syscall"

	"github.com/filegate/filegate/cache/ns"
)

// A write (WriteAt, WriteUnstable, a truncate) registers itself from
// before it looks at the file until its size and dirty mark, or its
// unstable size, are stored. A refresh leaves the local content of a
// registered file alone, as it leaves a dirty file's: a write in flight
// wins over a change noticed in the cloud, which the upload then keeps
// beside ours as a conflict copy. A drop of the local content that came
// anyway (the refresh looked before the write registered, or the file was
// removed) is counted, and the write checks the count under the data lock
// before it writes: a write never lands in a data file that was dropped
// after the write looked at the file, and never marks dirty a file whose
// content is no longer local.

// writeState is the registration of the writes in flight to one inode.
type writeState struct {
	n     int    // writes in flight
	drops uint64 // drops of the inode's local content while any was
}

// errContentDropped ends a write attempt whose file lost its local
// content after the write looked at it: the attempt starts over.
var errContentDropped = errors.New("the file's local content was dropped during the write")

// beginWrite registers a write of ino and returns the drop count to
// pass to droppedSince.
func (c *Cache) beginWrite(ino Ino) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writers[ino]
	if w == nil {
		w = &writeState{}
		c.writers[ino] = w
	}
	w.n++
	return w.drops
}

// endWrite ends a registration of beginWrite.
func (c *Cache) endWrite(ino Ino) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.writers[ino]; w != nil {
		if w.n--; w.n <= 0 {
			delete(c.writers, ino)
		}
	}
}

// writeDrops returns the drop count of a registered write of ino, for a
// new attempt.
func (c *Cache) writeDrops(ino Ino) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w := c.writers[ino]; w != nil {
		return w.drops
	}
	return 0
}

// droppedSince reports whether ino's local content was dropped since a
// registered write saw the drop count drops.
func (c *Cache) droppedSince(ino Ino, drops uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.writers[ino]
	return w != nil && w.drops != drops
}

// noteDrop counts a drop of ino's local content for the writes in
// flight. The caller drops the content under ino's data lock, or while
// ino is unpinned (eviction), so no write is between its check and its
// write.
func (c *Cache) noteDrop(ino Ino) {
	c.mu.Lock()
	if w := c.writers[ino]; w != nil {
		w.drops++
	}
	c.mu.Unlock()
}

// busyWriting reports whether a refresh must leave ino's content alone:
// a registered write may have written the local content n holds, or
// unstable writes not yet committed are in it.
func (c *Cache) busyWriting(t *txn, n *ns.Inode) bool {
	if _, unstable := t.pending(n.Ino); unstable {
		return true
	}
	if !n.Has(ns.FlagLocal) {
		// No write touched it: writes make a file local first.
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writers[n.Ino] != nil
}

// retryWrite runs attempt until it ends other than by errContentDropped,
// three times at most; then the client is asked to try again later.
func (c *Cache) retryWrite(ino Ino, attempt func(drops uint64) error) error {
	drops := c.beginWrite(ino)
	defer c.endWrite(ino)
	for try := 1; ; try++ {
		err := attempt(drops)
		if !errors.Is(err, errContentDropped) {
			return err
		}
		if try == 3 {
			// What the attempts wrote may lie in the data file past the
			// size: drop the content unless it is dirty.
			c.dropStale(ino)
			return fmt.Errorf("%w: %w", err, syscall.EAGAIN)
		}
		drops = c.writeDrops(ino)
	}
}
