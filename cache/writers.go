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
// removed) the write learns from the content epoch it watches (drops.go),
// checked under the data lock before it writes: a write never lands in a
// data file that was dropped after the write looked at the file, and
// never marks dirty a file whose content is no longer local.

// errContentDropped ends a write attempt whose file lost its local
// content after the write looked at it: the attempt starts over.
var errContentDropped = errors.New("the file's local content was dropped during the write")

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
	return c.writers.Busy(n.Ino)
}

// retryWrite runs attempt until it ends other than by errContentDropped,
// three times at most; then the client is asked to try again later. Each
// attempt watches ino's content and gets its epoch for DroppedSince.
func (c *Cache) retryWrite(ino Ino, attempt func(epoch uint64) error) error {
	c.writers.Begin(ino)
	defer c.writers.End(ino)
	for try := 1; ; try++ {
		err := func() error {
			defer c.epochs.Unwatch(ino)
			return attempt(c.epochs.Watch(ino))
		}()
		if !errors.Is(err, errContentDropped) {
			return err
		}
		if try == 3 {
			// What the attempts wrote may lie in the data file past the
			// size: drop the content unless it is dirty.
			c.dropStale(ino)
			return fmt.Errorf("%w: %w", err, syscall.EAGAIN)
		}
	}
}
