package cache

import (
	"fmt"
	"slices"

	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// recover reconciles the database with the data files at start: it
// rebuilds the in-memory accounting (cache usage in LRU order, dirty
// sizes), forgets local content whose data file is gone (so it is
// fetched again, never served as zeros), and deletes data files no inode
// owns (left by a crash between an eviction's commit and its unlink).
func (c *Cache) recover() error {
	type held struct {
		ino   Ino
		bytes int64
		mtime int64
	}
	var cached []held
	owned := map[Ino]bool{}
	var lost []string
	err := c.update(func(t *txn) error {
		cached, lost = nil, nil
		clear(owned)
		cur := t.Inodes.Cursor()
		for k, v := cur.First(); k != nil; k, v = cur.Next() {
			n, err := ns.UnmarshalInode(v)
			if err != nil {
				return fmt.Errorf("cache: inode %x: %w", k, err)
			}
			if !n.Mode.IsRegular() {
				continue
			}
			chunks := t.chunks(n.Ino)
			if !n.Has(ns.FlagLocal) && len(chunks) == 0 {
				if n.Has(ns.FlagDirty) {
					c.dirty.Restore(n.Ino, n.Size) // its age counts from this start
				}
				continue
			}
			fileSize, serr := c.files.Size(n.Ino)
			missing := serr != nil && n.Size > 0
			if missing {
				changed, msg, err := t.forgetLocal(n)
				if err != nil {
					return err
				}
				if msg != "" {
					p, _ := t.Path(n.Ino)
					lost = append(lost, p+": "+msg)
				}
				if !changed {
					continue
				}
				if n, err = t.get(n.Ino); err != nil {
					return err
				}
				chunks = t.chunks(n.Ino)
			} else if serr == nil && n.Has(ns.FlagLocal) && fileSize > n.Size {
				// A write that never got its size recorded: not
				// acknowledged, and must not show up after a later
				// truncate up.
				if err := c.files.Trim(n.Ino, n.Size); err != nil {
					return err
				}
			}
			if n.Has(ns.FlagDirty) {
				c.dirty.Restore(n.Ino, n.Size) // its age counts from this start
			}
			if n.Has(ns.FlagLocal) || len(chunks) > 0 {
				owned[n.Ino] = true
				cached = append(cached, held{n.Ino, content.LocalBytes(n, chunks), n.Mtime})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, l := range lost {
		c.log.Error("cache data file missing at start", "op", "recover", "path", l)
	}
	slices.SortFunc(cached, func(a, b held) int { return int(min(max(a.mtime-b.mtime, -1), 1)) })
	for _, h := range cached {
		c.lru.Load(h.ino, h.bytes)
	}
	return c.removeOrphans(owned)
}

// forgetLocal handles an inode whose data file vanished: content the
// backend has is fetched again; content only we had is lost, and the
// file becomes empty rather than a run of zeros. It returns whether the
// inode changed and, for lost data, a message.
func (t *txn) forgetLocal(n *ns.Inode) (bool, string, error) {
	msg := ""
	switch {
	case n.Has(ns.FlagRemote) && n.Has(ns.FlagDirty):
		msg = "local changes not yet uploaded are lost; the backend's version is served"
		if err := t.clearDirty(n); err != nil {
			return false, "", err
		}
		n.Size, n.Mtime = n.RemoteSize, n.RemoteMtime
	case n.Has(ns.FlagRemote):
	default:
		msg = "the only copy is lost; the file is now empty"
		n.Size = 0
		if err := t.put(n); err != nil {
			return false, "", err
		}
		return true, msg, nil
	}
	n.Flags &^= ns.FlagLocal
	if err := t.putChunks(n.Ino, nil); err != nil {
		return false, "", err
	}
	return true, msg, t.put(n)
}

// removeOrphans deletes data files of inodes holding no local content,
// and unfinished downloads.
func (c *Cache) removeOrphans(owned map[Ino]bool) error {
	removed, err := c.files.RemoveOrphans(owned)
	if removed > 0 {
		c.log.Info("removed data files no inode owns", "op", "recover", "files", removed)
	}
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}
