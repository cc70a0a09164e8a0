package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// ReadAt reads len(p) bytes at off. At the end of the file it returns the
// bytes there are and io.EOF. Content not in the cache is read from the
// backend, only the range asked for.
func (c *Cache) ReadAt(ctx context.Context, ino Ino, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: read at %d: %w", off, syscall.EINVAL)
	}
	var n *inode
	var key string
	err := c.view(func(t *txn) (err error) {
		if n, err = t.get(ino); err != nil {
			return err
		}
		if !n.has(flagLocal) && n.mode.IsRegular() {
			key, err = t.key(n)
		}
		return err
	})
	if err != nil {
		return 0, wrap("read", "", err)
	}
	switch {
	case n.mode.IsDir():
		return 0, fmt.Errorf("cache: read: %w", syscall.EISDIR)
	case !n.mode.IsRegular():
		return 0, fmt.Errorf("cache: read: %w", syscall.EINVAL)
	}
	if off >= n.size {
		return 0, io.EOF
	}
	want := p
	if rest := n.size - off; int64(len(want)) > rest {
		want = want[:rest]
	}
	var got int
	if n.has(flagLocal) {
		got, err = c.readLocal(ino, want, off)
	} else {
		got, err = c.readRemote(ctx, key, want, off)
	}
	if err != nil {
		return got, wrap("read", "", err)
	}
	if off+int64(got) >= n.size || got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

func (c *Cache) readLocal(ino Ino, p []byte, off int64) (int, error) {
	of, err := c.files.acquire(ino, true)
	if err != nil {
		return 0, err
	}
	defer c.files.release(of)
	got, err := of.f.ReadAt(p, off)
	if errors.Is(err, io.EOF) {
		// The data file may be shorter than the size after a crash
		// between extending the size and writing; the rest reads as
		// zeros, as a sparse file would.
		clear(p[got:])
		got, err = len(p), nil
	}
	c.stats.localReads.Add(1)
	c.stats.localReadBytes.Add(int64(got))
	return got, err
}

// readRemote reads a range of a file the cache does not hold.
func (c *Cache) readRemote(ctx context.Context, key string, p []byte, off int64) (int, error) {
	body, err := c.getRemote(ctx, key, off, int64(len(p)))
	if err != nil {
		return 0, err
	}
	defer body.Close()
	got, err := io.ReadFull(body, p)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		// The object is shorter than we think: someone changed it in
		// the cloud. Serve what it has.
		clear(p[got:])
		err = nil
	}
	c.stats.remoteReads.Add(1)
	c.stats.remoteReadBytes.Add(int64(got))
	return got, err
}

// getRemote opens a range of key. When the key is missing while journal
// ops are pending (a rename of a parent not yet applied), it waits for
// the journal to drain and tries once more.
func (c *Cache) getRemote(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	body, err := c.store.Get(ctx, key, off, length)
	if errors.Is(err, fs.ErrNotExist) && c.journalLen() > 0 {
		if werr := c.waitJournal(ctx); werr != nil {
			return nil, werr
		}
		body, err = c.store.Get(ctx, key, off, length)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s vanished from the backend: %w", key, syscall.EIO)
	}
	return body, err
}

// WriteAt writes p at off, growing the file as needed. The inode turns
// dirty in the same transaction that records its new size and mtime.
func (c *Cache) WriteAt(ctx context.Context, ino Ino, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("cache: write at %d: %w", off, syscall.EINVAL)
	}
	a, err := c.GetAttr(ctx, ino)
	if err != nil {
		return 0, err
	}
	switch {
	case a.Mode.IsDir():
		return 0, fmt.Errorf("cache: write: %w", syscall.EISDIR)
	case !a.Mode.IsRegular():
		return 0, fmt.Errorf("cache: write: %w", syscall.EINVAL)
	}
	if err := c.makeLocal(ctx, ino); err != nil {
		return 0, wrap("write", "", err)
	}
	of, err := c.files.acquire(ino, true)
	if err != nil {
		return 0, wrap("write", "", err)
	}
	defer c.files.release(of)
	got, werr := of.f.WriteAt(p, off)
	if got > 0 {
		end := off + int64(got)
		err = c.update(func(t *txn) error {
			n, err := t.get(ino)
			if err != nil {
				return err
			}
			n.size = max(n.size, end)
			now := time.Now().UnixNano()
			n.mtime, n.ctime = now, now
			n.version++
			if err := t.setDirty(n); err != nil {
				return err
			}
			return t.put(n)
		})
		if err != nil {
			return 0, wrap("write", "", err)
		}
		c.touched(ino)
		c.stats.writes.Add(1)
		c.stats.writeBytes.Add(int64(got))
	}
	return got, wrap("write", "", werr)
}

// Commit makes every write to ino so far durable on the cache disk. The
// namespace database is durable at every call already; Commit syncs the
// data file.
func (c *Cache) Commit(ctx context.Context, ino Ino) error {
	a, err := c.GetAttr(ctx, ino)
	if err != nil || !a.Mode.IsRegular() {
		return err
	}
	of, err := c.files.acquire(ino, false)
	if errors.Is(err, os.ErrNotExist) {
		return nil // nothing written locally
	}
	if err != nil {
		return wrap("commit", "", err)
	}
	defer c.files.release(of)
	return wrap("commit", "", of.f.Sync())
}

// markLocal declares ino's content local without fetching it, for a
// truncate to zero.
func (c *Cache) markLocal(ino Ino) error {
	return c.update(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil || n.has(flagLocal) {
			return err
		}
		n.flags |= flagLocal
		return t.put(n)
	})
}

// makeLocal downloads ino's content into its data file when the cache
// does not hold it, so it can be written in place. Concurrent callers
// share one download.
func (c *Cache) makeLocal(ctx context.Context, ino Ino) error {
	var local bool
	var key string
	var size int64
	err := c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		local, size = n.has(flagLocal), n.size
		if !local {
			key, err = t.key(n)
		}
		return err
	})
	if err != nil || local {
		return err
	}
	_, err, _ = c.loads.Do(fmt.Sprintf("data/%d", ino), func() (any, error) {
		return nil, c.download(ctx, ino, key, size)
	})
	return err
}

func (c *Cache) download(ctx context.Context, ino Ino, key string, size int64) error {
	tmp := c.files.path(ino) + ".download"
	if err := os.MkdirAll(c.files.dirOf(ino), 0o700); err != nil {
		return err
	}
	if err := syncDir(c.dataDir); err != nil {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if size > 0 {
		body, err := c.getRemote(ctx, key, 0, -1)
		if err != nil {
			return err
		}
		got, err := io.Copy(f, body)
		body.Close()
		if err != nil {
			return fmt.Errorf("download %s: %w", key, err)
		}
		c.stats.remoteReads.Add(1)
		c.stats.remoteReadBytes.Add(got)
	}
	if err := f.Truncate(size); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := os.Rename(tmp, c.files.path(ino)); err != nil {
		return err
	}
	if err := syncDir(c.files.dirOf(ino)); err != nil {
		return err
	}
	return c.markLocal(ino)
}

// fetchSymlink reads a symlink's target from the backend and keeps it.
func (c *Cache) fetchSymlink(ctx context.Context, ino Ino, key string) (string, error) {
	body, err := c.getRemote(ctx, key, 0, 4097)
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
		n.target, n.size = target, int64(len(target))
		return t.put(n)
	})
	return target, wrap("readlink", "", err)
}
