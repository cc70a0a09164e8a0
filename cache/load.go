package cache

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/filegate/filegate/backend"
)

// loadBatch is how many listed entries go into one transaction, so a
// huge directory never sits in memory whole.
const loadBatch = 1000

// ensureLoaded makes sure dir's entries from the backend are in the
// namespace. A directory is listed from the backend once, the first time
// it is used; directories made here start loaded.
func (c *Cache) ensureLoaded(ctx context.Context, dir Ino) error {
	var loaded bool
	var prefix string
	err := c.view(func(t *txn) error {
		d, err := t.getDir(dir)
		if err != nil {
			return err
		}
		loaded = d.has(flagLoaded)
		if !loaded && dir != RootIno {
			prefix, err = t.key(d)
		}
		return err
	})
	if err != nil || loaded {
		return err
	}
	_, err, _ = c.loads.Do(fmt.Sprintf("dir/%d", dir), func() (any, error) {
		return nil, c.loadDir(ctx, dir, prefix)
	})
	return err
}

func (c *Cache) loadDir(ctx context.Context, dir Ino, prefix string) error {
	start := time.Now()
	var batch []backend.ObjectInfo
	count := 0
	flush := func() error {
		err := c.update(func(t *txn) error { return t.addListed(dir, prefix, batch, c.cfg) })
		count += len(batch)
		batch = batch[:0]
		return err
	}
	err := c.store.List(ctx, backend.ListOptions{Prefix: prefix, Delimiter: "/"}, func(o backend.ObjectInfo) error {
		if o.Key == prefix {
			return nil // the directory's own marker
		}
		batch = append(batch, o)
		if len(batch) >= loadBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("cache: list %q in the backend: %w", prefix, err)
	}
	err = c.update(func(t *txn) error {
		d, err := t.getDir(dir)
		if err != nil {
			return err
		}
		d.flags |= flagLoaded
		return t.put(d)
	})
	c.log.Debug("directory loaded", "op", "list", "key", prefix, "dur", time.Since(start), "bytes", count)
	return err
}

// addListed adds backend entries to dir, keeping any name already there:
// the namespace is ahead of the backend for everything made here.
func (t *txn) addListed(dir Ino, prefix string, objs []backend.ObjectInfo, cfg Config) error {
	d, err := t.getDir(dir)
	if err != nil {
		return err
	}
	for _, o := range objs {
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, prefix), "/")
		if checkName(name) != nil {
			continue
		}
		if _, _, err := t.lookup(dir, name); err == nil {
			continue // a file and a directory of one name: the first wins
		}
		n, err := t.newInode()
		if err != nil {
			return err
		}
		n.parent, n.name, n.flags = dir, name, flagRemote
		n.uid, n.gid = cfg.DefaultUID, cfg.DefaultGID
		mtime := o.ModTime
		isDir := o.Prefix || strings.HasSuffix(o.Key, "/")
		switch {
		case isDir:
			n.mode, n.nlink = fs.ModeDir|cfg.DefaultDirMode, 2
			d.nlink++
		default:
			n.mode, n.size, n.etag = cfg.DefaultFileMode, o.Size, o.ETag
		}
		if a := o.Attrs; a != nil {
			if isDir {
				n.mode = fs.ModeDir | a.Mode&permBits
			} else if a.Mode&fs.ModeSymlink != 0 {
				n.mode = fs.ModeSymlink | a.Mode&permBits
			} else {
				n.mode = a.Mode & permBits
			}
			n.uid, n.gid = a.UID, a.GID
			if !a.MTime.IsZero() {
				mtime = a.MTime
			}
		}
		if mtime.IsZero() {
			mtime = time.Now()
		}
		n.atime, n.mtime, n.ctime = mtime.UnixNano(), mtime.UnixNano(), mtime.UnixNano()
		if err := t.put(n); err != nil {
			return err
		}
		if err := t.link(d, name, n); err != nil {
			return err
		}
	}
	return t.put(d)
}

// ensureTreeLoaded loads dir and every directory below it, before the
// tree moves to a new prefix in the backend.
func (c *Cache) ensureTreeLoaded(ctx context.Context, dir Ino) error {
	todo := []Ino{dir}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		if err := c.ensureLoaded(ctx, d); err != nil {
			return err
		}
		err := c.ReadDir(ctx, d, 0, func(e DirEntry) bool {
			if e.Mode.IsDir() {
				todo = append(todo, e.Ino)
			}
			return true
		})
		if err != nil {
			return err
		}
	}
	return nil
}
