package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// takeListedVersions gives each file a refresh found changed in the
// cloud its new version (takeVersion), several at once so that their
// transactions share commits. A file renamed, or its directory changed,
// since the listing keeps its version: the next refresh looks again.
func (c *Cache) takeListedVersions(l *listing, changed []changedFile) error {
	var g errgroup.Group
	g.SetLimit(16)
	for _, ch := range changed {
		g.Go(func() error {
			return c.takeVersion(ch.ino, ch.o, func(t *txn, n *ns.Inode) bool {
				if !ch.o.ChangedFrom(n.ETag, n.RemoteSize, n.RemoteMtime) {
					return false
				}
				key, err := t.Key(n)
				if err != nil || key != ch.o.Key {
					return false
				}
				d, err := t.GetDir(l.dir)
				return err == nil && !l.raced(t, d)
			})
		})
	}
	return g.Wait()
}

// takeVersion gives ino the version o of its object, when ok agrees,
// and drops its local content in the same step, under its data lock: no
// fetch or write lands in the old data file once the new version is
// recorded, so no byte of the old version is ever taken for the new
// one. A file that is dirty, holds unstable writes not yet committed, or
// has a write in flight (busyWriting) keeps its content and version:
// ours wins, and its upload keeps the cloud's version beside it as a
// conflict copy.
func (c *Cache) takeVersion(ino Ino, o backend.ObjectInfo, ok func(t *txn, n *ns.Inode) bool) error {
	c.hooks.at(hookNewVersion, ino)
	mu := c.files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	end := c.beginDrop(ino)
	taken := false
	defer func() { end(taken) }()
	err := c.update(func(t *txn) error {
		taken = false
		n, err := t.get(ino)
		if errors.Is(err, syscall.ESTALE) {
			return nil // removed meanwhile
		}
		if err != nil {
			return err
		}
		if !n.Mode.IsRegular() || n.Has(ns.FlagDirty) || c.busyWriting(t, n) || !ok(t, n) {
			return nil
		}
		n.Size, n.ETag, n.RemoteSize, n.RemoteMtime = o.Size, o.ETag, o.Size, o.MtimeNano()
		n.Mtime, n.Ctime = n.RemoteMtime, time.Now().UnixNano()
		if o.Attrs != nil {
			takeOwnerMode(n, o.Attrs)
		}
		n.Flags &^= ns.FlagLocal
		if err := t.putChunks(ino, nil); err != nil {
			return err
		}
		taken = true
		return t.put(n)
	})
	if err != nil || !taken {
		return err
	}
	c.forget(ino)
	return nil
}

// refreshFile gives ino the version the store holds now of its object at
// key, after a fetch for version ver found another there
// (backend.ErrChanged, or the object shorter than ver): reads start over
// with it, and no chunk of ver is taken for it. Concurrent fetches that
// found the change share one Stat.
func (c *Cache) refreshFile(ctx context.Context, ino Ino, key string, ver content.Version) error {
	_, err, _ := c.loads.Do(fmt.Sprintf("file/%d/%d/%d/%s", ino, ver.Size, ver.Mtime, ver.ETag), func() (any, error) {
		info, err := c.store.Stat(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			c.refreshOf(ino) // gone: a listing of its directory removes it
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, c.takeVersion(ino, info, func(t *txn, n *ns.Inode) bool {
			if n.Has(ns.FlagLocal) || verOf(n) != ver || info.ETag == n.ETag {
				return false // another took a new version already
			}
			now, err := t.Key(n)
			return err == nil && now == key
		})
	})
	return err
}
