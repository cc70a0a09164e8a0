package cache

import (
	"context"
	"strings"

	"github.com/filegate/filegate/cache/ns"
)

// Progress reports how much of a flush or prefetch remains.
type Progress struct {
	Files int
	Bytes int64
}

// subtree returns ino and, for a directory, every inode below it that
// the cache knows (directories never listed hold nothing of ours).
func (c *Cache) subtree(ctx context.Context, ino Ino) ([]Ino, error) {
	out := []Ino{ino}
	a, err := c.GetAttr(ctx, ino)
	if err != nil || !a.IsDir() {
		return out, err
	}
	todo := []Ino{ino}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		err := c.ReadDir(ctx, d, 0, func(e DirEntry) bool {
			out = append(out, e.Ino)
			if e.Mode.IsDir() {
				todo = append(todo, e.Ino)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// FlushIno uploads every change at or below ino now, without waiting for
// files to settle, and returns once the backend has all of it, or ctx
// ends. progress, if set, is called as the remainder shrinks.
func (c *Cache) FlushIno(ctx context.Context, ino Ino, progress func(Progress)) error {
	var report func(int, int64)
	if progress != nil {
		report = func(files int, bytes int64) { progress(Progress{Files: files, Bytes: bytes}) }
	}
	if ino == RootIno {
		if report == nil {
			return c.Flush(ctx)
		}
		return c.wb.FlushMatching(ctx, func(Ino) bool { return true }, func(string) bool { return true }, report)
	}
	inos, err := c.subtree(ctx, ino)
	if err != nil {
		return wrap("flush", "", err)
	}
	want := map[Ino]bool{}
	for _, i := range inos {
		want[i] = true
	}
	prefix, err := c.Path(ctx, ino)
	if err != nil {
		return err
	}
	// The dirty files below ino, and the journal's ops on keys below
	// its path (writeback.Queue.FlushMatching).
	return c.wb.FlushMatching(ctx, func(i Ino) bool { return want[i] }, func(key string) bool {
		return key == prefix || strings.HasPrefix(key, prefix+"/")
	}, report)
}

// Pin keeps the content of ino, or of every file below it, in the cache:
// it is fetched now and never evicted until Unpin. It returns the files
// and bytes pinned.
func (c *Cache) Pin(ctx context.Context, ino Ino, progress func(Progress)) (Progress, error) {
	inos, err := c.setPinned(ctx, ino, true)
	if err != nil {
		return Progress{}, err
	}
	var done Progress
	for _, i := range inos {
		a, err := c.GetAttr(ctx, i)
		if err != nil {
			continue
		}
		if err := c.makeLocal(ctx, i); err != nil {
			return done, wrap("pin", "", err)
		}
		done.Files++
		done.Bytes += a.Size
		if progress != nil {
			progress(done)
		}
	}
	return done, nil
}

// Unpin lets the content of ino, or of the files below it, be evicted
// again.
func (c *Cache) Unpin(ctx context.Context, ino Ino) (int, error) {
	inos, err := c.setPinned(ctx, ino, false)
	return len(inos), err
}

// setPinned sets or clears the pin of every regular file in the subtree
// and returns them.
func (c *Cache) setPinned(ctx context.Context, ino Ino, pinned bool) ([]Ino, error) {
	inos, err := c.subtree(ctx, ino)
	if err != nil {
		return nil, wrap("pin", "", err)
	}
	var files []Ino
	err = c.update(func(t *txn) error {
		files = files[:0]
		for _, i := range inos {
			n, err := t.get(i)
			if err != nil || !n.Mode.IsRegular() {
				continue
			}
			if pinned {
				n.Flags |= ns.FlagPinned
			} else {
				n.Flags &^= ns.FlagPinned
			}
			if err := t.put(n); err != nil {
				return err
			}
			files = append(files, i)
		}
		return nil
	})
	return files, wrap("pin", "", err)
}

// Evict drops the cached content of ino, or of every file below it, that
// the backend holds: dirty, pinned and in-use files stay. It returns
// what was dropped.
func (c *Cache) Evict(ctx context.Context, ino Ino) (Progress, error) {
	inos, err := c.subtree(ctx, ino)
	if err != nil {
		return Progress{}, wrap("evict", "", err)
	}
	var p Progress
	for _, i := range inos {
		before := c.lru.Bytes(i)
		if before == 0 {
			continue
		}
		if err := c.evict(i); err != nil {
			return p, wrap("evict", "", err)
		}
		if c.lru.Bytes(i) == 0 {
			p.Files++
			p.Bytes += before
		}
	}
	return p, nil
}
