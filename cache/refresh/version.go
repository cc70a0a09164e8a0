package refresh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
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
func (r *Refresher) takeListedVersions(l *listing, changed []changedFile) error {
	var g errgroup.Group
	g.SetLimit(16)
	for _, ch := range changed {
		g.Go(func() error {
			return r.takeVersion(ch.ino, ch.o, func(t Tx, n *ns.Inode) bool {
				if !ch.o.ChangedFrom(n.ETag, n.RemoteSize, n.RemoteMtime) {
					return false
				}
				key, err := t.NS().Key(n)
				if err != nil || key != ch.o.Key {
					return false
				}
				d, err := t.NS().GetDir(l.dir)
				return err == nil && !l.raced(t, d)
			})
		})
	}
	return g.Wait()
}

// takeVersion gives ino the version o of its object, when ok agrees,
// and drops its local content in the same step (Host.DropContent): no
// fetch or write lands in the old data file once the new version is
// recorded, so no byte of the old version is ever taken for the new
// one. A file that is dirty, holds unstable writes not yet committed, or
// has a write in flight (Tx.Busy) keeps its content and version: ours
// wins, and its upload keeps the cloud's version beside it as a
// conflict copy.
func (r *Refresher) takeVersion(ino ns.Ino, o backend.ObjectInfo, ok func(t Tx, n *ns.Inode) bool) error {
	if r.cfg.BeforeNewVersion != nil {
		r.cfg.BeforeNewVersion(ino)
	}
	return r.host.DropContent(ino, func(t Tx, n *ns.Inode) bool {
		if !n.Mode.IsRegular() || n.Has(ns.FlagDirty) || t.Busy(n) || !ok(t, n) {
			return false
		}
		n.Size, n.ETag, n.RemoteSize, n.RemoteMtime = o.Size, o.ETag, o.Size, o.MtimeNano()
		n.Mtime, n.Ctime = n.RemoteMtime, time.Now().UnixNano()
		if o.Attrs != nil {
			takeOwnerMode(n, o.Attrs)
		}
		return true
	})
}

// FileChanged gives ino the version the store holds now of its object
// at key, after a fetch for version ver found another there
// (backend.ErrChanged, or the object shorter than ver): reads start over
// with it, and no chunk of ver is taken for it. A gone object has its
// directory listed again, which removes it. Concurrent fetches that
// found the change share one Stat.
func (r *Refresher) FileChanged(ctx context.Context, ino ns.Ino, key string, ver content.Version) error {
	_, err, _ := r.loads.Do(fmt.Sprintf("file/%d/%d/%d/%s", ino, ver.Size, ver.Mtime, ver.ETag), func() (any, error) {
		info, err := r.store.Stat(ctx, key)
		if errors.Is(err, fs.ErrNotExist) {
			r.Relist(ino)
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return nil, r.takeVersion(ino, info, func(t Tx, n *ns.Inode) bool {
			if n.Has(ns.FlagLocal) || content.VersionOf(n) != ver || info.ETag == n.ETag {
				return false // another took a new version already
			}
			now, err := t.NS().Key(n)
			return err == nil && now == key
		})
	})
	return err
}
