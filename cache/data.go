package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// ReadAt reads len(p) bytes at off. At the end of the file it returns the
// bytes there are and io.EOF. Content not in the cache is fetched from
// the backend in chunks, only those covering the range asked for, with
// read-ahead for sequential readers.
func (c *Cache) ReadAt(ctx context.Context, ino Ino, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: read at %d: %w", off, syscall.EINVAL)
	}
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	for try := 1; ; try++ {
		got, err := c.readAt(ctx, ino, p, off)
		if !errors.Is(err, content.ErrVersionChanged) {
			return got, err
		}
		if try == 3 {
			// Changing faster than it can be read: the client
			// tries again later.
			return 0, fmt.Errorf("%w: %w", err, syscall.EAGAIN)
		}
	}
}

// readAt is ReadAt for the version ino has now. When the file's local
// content was dropped meanwhile (a refresh noted a new version, or it
// was removed), what it read may be zeros of a data file made anew: it
// fails with content.ErrVersionChanged and ReadAt reads again.
func (c *Cache) readAt(ctx context.Context, ino Ino, p []byte, off int64) (int, error) {
	epoch := c.epochs.Watch(ino)
	defer c.epochs.Unwatch(ino)
	var n *ns.Inode
	hit := true
	err := c.view(func(t *txn) (err error) {
		if n, err = t.get(ino); err != nil || n.Has(ns.FlagLocal) || off >= n.Size {
			return err
		}
		b := c.presentFor(t, n)
		first, last := content.ChunkRange(off, min(off+int64(len(p)), n.Size))
		for i := first; i <= last; i++ {
			hit = hit && b.Has(i)
		}
		return nil
	})
	if err != nil {
		return 0, wrap("read", "", err)
	}
	switch {
	case n.Mode.IsDir():
		return 0, fmt.Errorf("cache: read: %w", syscall.EISDIR)
	case !n.Mode.IsRegular():
		return 0, fmt.Errorf("cache: read: %w", syscall.EINVAL)
	}
	if off >= n.Size {
		return 0, io.EOF
	}
	want := p
	if rest := n.Size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	end := off + int64(len(want))
	sequential := c.readAheads.Note(ino, off, end)
	if !n.Has(ns.FlagLocal) {
		if !hit {
			c.stats.misses.Add(1)
			c.stats.missBytes.Add(int64(len(want)))
			ver, err := c.fetcher.EnsureRange(ctx, ino, off, end)
			if err != nil {
				return 0, wrap("read", "", err)
			}
			if ver != verOf(n) {
				// Fetched for a new version, of another size.
				return 0, wrap("read", "", content.ErrVersionChanged)
			}
		}
		if sequential {
			c.readAhead(ino, end)
		}
	}
	c.hooks.at(hookReadLocal, ino)
	got, err := c.readLocal(ino, want, off)
	if err != nil {
		return got, wrap("read", "", err)
	}
	if c.epochs.DroppedSince(ino, epoch) {
		return 0, wrap("read", "", content.ErrVersionChanged)
	}
	c.lru.Touch(ino)
	if off+int64(got) >= n.Size || got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

func (c *Cache) readLocal(ino Ino, p []byte, off int64) (int, error) {
	of, err := c.files.Acquire(ino, true)
	if err != nil {
		return 0, err
	}
	defer c.files.Release(of)
	got, err := of.File.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		// Past the end of the data file: a file grown by truncate, or
		// a crash between writing and extending; it reads as zeros.
		clear(p[got:])
		got, err = len(p), nil
	}
	c.stats.localReads.Add(1)
	c.stats.localReadBytes.Add(int64(got))
	return got, err
}

// writeData writes p at off into ino's data file, under the inode's data
// lock so no late fetch overwrites it. A write that watched ino's content
// at epoch fails with errContentDropped, writing nothing, when the local
// content was dropped since.
func (c *Cache) writeData(ino Ino, p []byte, off int64, epoch uint64) (int, error) {
	mu := c.files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	if c.epochs.DroppedSince(ino, epoch) {
		return 0, errContentDropped
	}
	of, err := c.files.Acquire(ino, true)
	if err != nil {
		return 0, err
	}
	defer c.files.Release(of)
	c.unstable.noteWritten(ino)
	return of.File.WriteAt(p, off)
}

// getRemote opens a range of key, of the version etag names (any when
// empty). When the key is missing while journal ops are pending (a
// rename of a parent not yet applied), it waits for the journal to drain
// and tries once more.
func (c *Cache) getRemote(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	body, err := c.store.Get(ctx, key, off, length, etag)
	if errors.Is(err, fs.ErrNotExist) && !c.wb.Empty() {
		if werr := c.wb.Wait(ctx); werr != nil {
			return nil, werr
		}
		body, err = c.store.Get(ctx, key, off, length, etag)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s vanished from the backend: %w", key, syscall.EIO)
	}
	return body, err
}

// WriteAt writes p at off, growing the file as needed. The inode turns
// dirty in the same transaction that records its new size and mtime. A
// file not wholly in the cache is fetched first, since the backend takes
// whole objects only. It returns the bytes written and the attributes
// before and after.
func (c *Cache) WriteAt(ctx context.Context, ino Ino, p []byte, off int64) (int, Change, error) {
	if off < 0 {
		return 0, Change{}, fmt.Errorf("cache: write at %d: %w", off, syscall.EINVAL)
	}
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	a, err := c.GetAttr(ctx, ino)
	if err != nil {
		return 0, Change{}, err
	}
	switch {
	case a.Mode.IsDir():
		return 0, Change{}, fmt.Errorf("cache: write: %w", syscall.EISDIR)
	case !a.Mode.IsRegular():
		return 0, Change{}, fmt.Errorf("cache: write: %w", syscall.EINVAL)
	}
	if err := c.dirty.Admit(ino, max(a.Size, off+int64(len(p)))); err != nil {
		return 0, Change{}, err
	}
	var got int
	var ch Change
	err = c.retryWrite(ino, func(epoch uint64) (err error) {
		got, ch, err = c.writeAt(ctx, ino, p, off, epoch)
		return err
	})
	return got, ch, wrap("write", "", err)
}

// writeAt is one attempt of WriteAt, for a write that watched ino's
// content at epoch.
func (c *Cache) writeAt(ctx context.Context, ino Ino, p []byte, off int64, epoch uint64) (int, Change, error) {
	if err := c.makeLocal(ctx, ino); err != nil {
		return 0, Change{}, err
	}
	c.hooks.at(hookMadeLocal, ino)
	got, werr := c.writeData(ino, p, off, epoch)
	c.hooks.at(hookWritten, ino)
	var ch Change
	if got == 0 && werr == nil {
		ch, err := c.unchanged(ino)
		return 0, ch, err
	}
	if got > 0 {
		end := off + int64(got)
		var size int64
		err := c.update(func(t *txn) error {
			n, err := t.get(ino)
			if err != nil {
				return err
			}
			ch.Before = attrOf(n)
			if !n.Has(ns.FlagLocal) {
				// Dropped after the write (writeData checked before):
				// never a dirty file without its content.
				return errContentDropped
			}
			n.Size = max(n.Size, end)
			now := time.Now().UnixNano()
			n.Mtime, n.Ctime = now, now
			n.Version++
			size = n.Size
			if err := t.setDirty(n); err != nil {
				return err
			}
			ch.After = attrOf(n)
			return t.put(n)
		})
		if err != nil {
			return 0, Change{}, err
		}
		c.lru.Account(ino, size)
		c.wb.Touched(ino)
		c.stats.writes.Add(1)
		c.stats.writeBytes.Add(int64(got))
	}
	return got, ch, werr
}

// unchanged is the Change of a call that changed nothing of ino: zero
// when ino is gone.
func (c *Cache) unchanged(ino Ino) (Change, error) {
	var a Attr
	err := c.view(func(t *txn) (err error) {
		a, err = attrIn(t, ino)
		return err
	})
	if errors.Is(err, syscall.ESTALE) {
		return Change{}, nil
	}
	return Change{a, a}, err
}

// Commit makes every write to ino so far durable on the cache disk, and
// stores the size of unstable writes. A small file's content goes into
// the namespace database in the same transaction (see inline.go); a
// larger one's data file is fsynced. With SyncInterval, the data file is
// fsynced within SyncInterval instead. It returns the attributes after
// it, which are those before: a commit changes none. They are zero when
// ino is gone, as there is nothing to commit then.
func (c *Cache) Commit(ctx context.Context, ino Ino) (Attr, error) {
	if err := c.commit(ino); err != nil {
		return Attr{}, err
	}
	ch, err := c.unchanged(ino)
	return ch.After, wrap("commit", "", err)
}

// commit is Commit without the attributes.
func (c *Cache) commit(ino Ino) error {
	if c.cfg.SyncInterval > 0 {
		c.unstable.takeWritten(ino)
		if err := c.storePending(ino, nil); err != nil {
			return wrap("commit", "", err)
		}
		c.unsynced.add(ino)
		return nil
	}
	mu := c.syncMu.of(ino)
	mu.Lock()
	defer mu.Unlock()
	if !c.unstable.takeWritten(ino) {
		return nil // all durable since the last Commit
	}
	err := c.commitData(ino)
	if err != nil {
		c.unstable.noteWritten(ino) // the next Commit tries again
	}
	return wrap("commit", "", err)
}

// syncLocks serializes, per inode, what writes or deletes its inline
// record and syncs its data file: Commit and truncate.
type syncLocks [64]sync.Mutex

// of returns ino's lock.
func (s *syncLocks) of(ino Ino) *sync.Mutex { return &s[uint64(ino)%uint64(len(s))] }

// unsyncedFiles holds the data files committed but not yet fsynced,
// when commits are batched by SyncInterval.
type unsyncedFiles struct {
	sync func(Ino) error
	log  *slog.Logger

	mu   sync.Mutex
	inos map[Ino]bool
}

// add notes that ino's data file was committed.
func (u *unsyncedFiles) add(ino Ino) {
	u.mu.Lock()
	u.inos[ino] = true
	u.mu.Unlock()
}

// syncAll fsyncs every data file committed but not yet synced.
func (u *unsyncedFiles) syncAll() {
	u.mu.Lock()
	pending := u.inos
	u.inos = map[Ino]bool{}
	u.mu.Unlock()
	for ino := range pending {
		if err := u.sync(ino); err != nil && !errors.Is(err, syscall.ESTALE) {
			u.log.Error("sync data file; recent writes are at risk if power fails", "op", "sync", "err", err)
		}
	}
}

// markLocal declares ino's content local without fetching it, for a
// truncate to zero. The caller holds the inode's data lock, so no fetch
// lands after it.
func (c *Cache) markLocal(ino Ino) error {
	return c.update(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil || n.Has(ns.FlagLocal) {
			return err
		}
		n.Flags |= ns.FlagLocal
		if err := t.putChunks(ino, nil); err != nil {
			return err
		}
		return t.put(n)
	})
}

// makeLocal fetches whatever part of ino's content the cache lacks and
// records it, so the file is wholly local before it is written.
func (c *Cache) makeLocal(ctx context.Context, ino Ino) error {
	// New chunks are recorded in the database only after their data is
	// synced (persistChunks).
	if _, err := c.fetcher.EnsureRange(ctx, ino, 0, math.MaxInt64); err != nil {
		return err
	}
	return c.persistChunks(ino)
}

// fetchSymlink reads a symlink's target from the backend and keeps it.
func (c *Cache) fetchSymlink(ctx context.Context, ino Ino, key string) (string, error) {
	body, err := c.getRemote(ctx, key, 0, 4097, "")
	if err != nil {
		return "", wrap("readlink", "", err)
	}
	defer body.Close()
	b, err := io.ReadAll(io.LimitReader(body, 4097))
	if err != nil {
		return "", wrap("readlink", "", err)
	}
	if len(b) == 0 || len(b) > 4096 {
		return "", fmt.Errorf("cache: readlink: backend target of %d bytes: %w", len(b), syscall.EIO)
	}
	target := string(b)
	err = c.update(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		n.Target, n.Size = target, int64(len(target))
		return t.put(n)
	})
	return target, wrap("readlink", "", err)
}
