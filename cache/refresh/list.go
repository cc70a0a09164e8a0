package refresh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/ns"
)

// LoadBatch is how many listed entries go into one transaction, so a
// huge directory never sits in memory whole.
const LoadBatch = 1000

// listing is the state of one directory listing being merged.
type listing struct {
	dir     ns.Ino
	prefix  string
	refresh bool
	// pending holds keys with journal ops not yet applied: the backend
	// is behind the namespace there, so its view must not win.
	pending map[string]bool
	// seen holds the names the backend listed, on a refresh.
	seen map[string]bool
	// mtime and nextCookie are the directory's when the listing began:
	// a change here since then (an entry made, removed or renamed)
	// means the listing may be older than the namespace, so a refresh
	// is dropped and tried again later.
	mtime      int64
	nextCookie uint64
	// wasDirty holds the files dirty when the listing began.
	wasDirty map[ns.Ino]bool
}

// errRaced ends a refresh whose directory changed during the listing.
var errRaced = errors.New("directory changed during the listing")

// raced reports whether d changed since the listing began, or moved: a
// listing of its old prefix says nothing about it any more.
func (l *listing) raced(t Tx, d *ns.Inode) bool {
	if !l.refresh {
		return false
	}
	if d.Mtime != l.mtime || d.NextCookie != l.nextCookie {
		return true
	}
	if d.Ino == ns.RootIno {
		return false
	}
	key, err := t.NS().Key(d)
	return err != nil || key != l.prefix
}

func (l *listing) isPending(key string) bool {
	if l.pending[key] || l.pending[key+"/"] {
		return true
	}
	for k := range l.pending {
		if strings.HasSuffix(k, "/") && strings.HasPrefix(key, k) {
			return true
		}
	}
	return false
}

func (r *Refresher) loadDir(ctx context.Context, dir ns.Ino, refresh bool) error {
	start := time.Now()
	l := &listing{dir: dir, refresh: refresh, pending: map[string]bool{}, seen: map[string]bool{},
		wasDirty: map[ns.Ino]bool{}}
	err := r.host.View(func(t Tx) error {
		d, err := t.NS().GetDir(dir)
		if err != nil {
			return err
		}
		l.mtime, l.nextCookie = d.Mtime, d.NextCookie
		if dir != ns.RootIno {
			if l.prefix, err = t.NS().Key(d); err != nil {
				return err
			}
		}
		// A file dirty now may be uploaded while the listing runs: the
		// listing then shows the cloud from before, which says nothing
		// of it.
		if err := t.Dirty(func(ino ns.Ino) { l.wasDirty[ino] = true }); err != nil {
			return err
		}
		return t.Pending(func(key string) { l.pending[key] = true })
	})
	if err != nil {
		return err
	}
	var batch []backend.ObjectInfo
	var changed []changedFile
	count := 0
	flush := func() error {
		var more []changedFile
		err := r.host.Update(func(t Tx) (err error) {
			more, err = r.mergeListed(t, l, batch)
			return err
		})
		changed = append(changed, more...)
		count += len(batch)
		batch = batch[:0]
		return err
	}
	opts := backend.ListOptions{Prefix: l.prefix, Delimiter: "/", Known: r.known(l)}
	err = r.store.List(ctx, opts, func(o backend.ObjectInfo) error {
		if o.Key == l.prefix {
			return nil // the directory's own marker
		}
		batch = append(batch, o)
		if len(batch) >= LoadBatch {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if errors.Is(err, errRaced) {
		r.log.Debug("refresh dropped: the directory changed meanwhile", "op", "refresh", "key", l.prefix)
		return nil
	}
	if err != nil {
		return fmt.Errorf("cache: list %q in the backend: %w", l.prefix, err)
	}
	if err := r.takeListedVersions(l, changed); err != nil {
		return err
	}
	var vanished []ns.Ino
	err = r.host.Update(func(t Tx) error {
		vanished = nil
		d, err := t.NS().GetDir(dir)
		if err != nil {
			return err
		}
		if l.raced(t, d) {
			return errRaced
		}
		if refresh {
			if vanished, err = dropVanished(t, l); err != nil {
				return err
			}
			if d, err = t.NS().GetDir(dir); err != nil {
				return err
			}
		}
		d.Flags |= ns.FlagLoaded
		d.LoadedAt = time.Now().UnixNano()
		return t.PutInode(d)
	})
	if errors.Is(err, errRaced) {
		err = nil
	}
	for _, ino := range vanished {
		r.host.DropStale(ino)
	}
	r.log.Debug("directory listed", "op", "list", "key", l.prefix, "dur", time.Since(start), "bytes", count)
	return err
}

// known tells the store what the namespace holds of each key of l's
// listing (backend.ListOptions.Known), so the store reads only objects
// whose details mergeListed would use: on S3 a listing of a directory
// this gateway wrote, or listed before, then needs no HEAD per object.
// It follows mergeListed: names present on a first listing, directories,
// keys with pending ops, and files that are dirty or not regular are
// kept whatever the cloud holds (AnyVersion); a clean file is compared
// by the version it was last in step with.
func (r *Refresher) known(l *listing) func(key string) (backend.Known, bool) {
	anyVersion := backend.Known{AnyVersion: true}
	return func(key string) (backend.Known, bool) {
		name := strings.TrimSuffix(strings.TrimPrefix(key, l.prefix), "/")
		if ns.CheckName(name) != nil {
			return anyVersion, true // mergeListed skips it
		}
		var k backend.Known
		var ok bool
		err := r.host.View(func(t Tx) error {
			child, _, err := t.NS().Lookup(l.dir, name)
			if err != nil {
				if l.refresh && l.isPending(key) {
					k, ok = anyVersion, true // removed or renamed here
				}
				return nil
			}
			if !l.refresh || strings.HasSuffix(key, "/") || l.isPending(key) {
				k, ok = anyVersion, true
				return nil
			}
			n, err := t.Inode(child)
			if err != nil {
				return nil
			}
			ok = true
			if !n.Mode.IsRegular() || n.Has(ns.FlagDirty) {
				k = anyVersion
			} else {
				k.Size, k.ETag = n.RemoteSize, n.ETag
			}
			return nil
		})
		return k, ok && err == nil
	}
}

// takeListedAttrs gives the clean file n, whose content the object o
// still holds, o's mode and owner when another version of o's metadata
// was listed (a chmod or chown by a tool on the POSIX backend; on S3, a
// listing shows no metadata, so only objects it read for other reasons).
func takeListedAttrs(t Tx, n *ns.Inode, o backend.ObjectInfo) error {
	if o.ETag == "" || o.ETag == n.ETag {
		return nil
	}
	n.ETag = o.ETag
	if o.Attrs != nil && o.Attrs.Mode.Type() == 0 && takeOwnerMode(n, o.Attrs) {
		n.Ctime = time.Now().UnixNano()
	}
	return t.PutInode(n)
}

// takeOwnerMode gives n the permission bits, owner and group of a, and
// reports whether they changed.
func takeOwnerMode(n *ns.Inode, a *backend.Attrs) bool {
	mode := n.Mode&^ns.PermBits | a.Mode&ns.PermBits
	changed := mode != n.Mode || a.UID != n.UID || a.GID != n.GID
	n.Mode, n.UID, n.GID = mode, a.UID, a.GID
	return changed
}

// changedFile is a file a refresh found changed in the cloud: o is what
// the listing holds at its key.
type changedFile struct {
	ino ns.Ino
	o   backend.ObjectInfo
}

// mergeListed adds backend entries to the directory. On a first listing
// any name already present wins: the namespace is ahead of the backend
// for everything made here. On a refresh, it returns the clean files
// changed in the cloud, for takeListedVersions.
func (r *Refresher) mergeListed(t Tx, l *listing, objs []backend.ObjectInfo) ([]changedFile, error) {
	d, err := t.NS().GetDir(l.dir)
	if err != nil {
		return nil, err
	}
	if l.raced(t, d) {
		return nil, errRaced
	}
	var changed []changedFile
	for _, o := range objs {
		name := strings.TrimSuffix(strings.TrimPrefix(o.Key, l.prefix), "/")
		if ns.CheckName(name) != nil {
			continue
		}
		isDir := o.Prefix || strings.HasSuffix(o.Key, "/")
		if l.refresh {
			l.seen[name] = true
		}
		if o.Known {
			// The store took known's word and read nothing: there is
			// nothing to merge, and too little to make an entry of if
			// the name went away meanwhile (the next listing reads it).
			continue
		}
		child, _, err := t.NS().Lookup(l.dir, name)
		if err == nil {
			if !l.refresh || isDir || l.isPending(o.Key) {
				continue
			}
			n, err := t.Inode(child)
			if err != nil {
				return nil, err
			}
			if !n.Mode.IsRegular() || n.Has(ns.FlagDirty) || l.wasDirty[n.Ino] {
				continue
			}
			if !o.ChangedFrom(n.ETag, n.RemoteSize, n.RemoteMtime) {
				if err := takeListedAttrs(t, n, o); err != nil {
					return nil, err
				}
				continue
			}
			changed = append(changed, changedFile{n.Ino, o})
			continue
		}
		if l.refresh && l.isPending(o.Key) {
			continue // removed or renamed here; the backend will follow
		}
		n, err := t.NS().NewInode()
		if err != nil {
			return nil, err
		}
		n.Parent, n.Name, n.Flags = l.dir, name, ns.FlagRemote
		n.UID, n.GID = r.cfg.DefaultUID, r.cfg.DefaultGID
		if isDir {
			n.Mode, n.Nlink = fs.ModeDir|r.cfg.DefaultDirMode, 2
			d.Nlink++
		} else {
			n.Mode, n.Size, n.ETag = r.cfg.DefaultFileMode, o.Size, o.ETag
			n.RemoteSize, n.RemoteMtime = o.Size, o.MtimeNano()
		}
		if a := o.Attrs; a != nil {
			switch {
			case isDir:
				n.Mode = fs.ModeDir | a.Mode&ns.PermBits
			case a.Mode&fs.ModeSymlink != 0:
				n.Mode = fs.ModeSymlink | a.Mode&ns.PermBits
			default:
				n.Mode = a.Mode & ns.PermBits
			}
			n.UID, n.GID = a.UID, a.GID
		}
		mtime := o.MtimeNano()
		if o.Prefix && (o.Attrs == nil || o.Attrs.MTime.IsZero()) {
			mtime = time.Now().UnixNano() // a bare prefix has no time
		}
		n.Atime, n.Mtime, n.Ctime = mtime, mtime, mtime
		if err := t.PutInode(n); err != nil {
			return nil, err
		}
		if err := t.NS().Link(d, name, n); err != nil {
			return nil, err
		}
	}
	// Our own additions are no race.
	l.mtime, l.nextCookie = d.Mtime, d.NextCookie
	return changed, t.PutInode(d)
}

// dropVanished removes entries the backend no longer lists: files and
// empty directories that are in step with the backend, have no pending
// changes and are not hard-linked. Anything changed here stays; it will
// be uploaded again.
func dropVanished(t Tx, l *listing) ([]ns.Ino, error) {
	d, err := t.NS().GetDir(l.dir)
	if err != nil {
		return nil, err
	}
	type victim struct {
		name string
		n    *ns.Inode
	}
	var victims []victim
	prefix := ns.InoKey(l.dir)
	cur := t.NS().Dirents.Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		name := string(k[8:])
		if l.seen[name] || l.isPending(l.prefix+name) {
			continue
		}
		child, _, _, err := ns.ParseDirent(v)
		if err != nil {
			return nil, err
		}
		n, err := t.Inode(child)
		if err != nil {
			return nil, err
		}
		if !n.Has(ns.FlagRemote) || n.Has(ns.FlagDirty) || l.wasDirty[n.Ino] || n.Nlink > 1 && !n.Mode.IsDir() || t.Busy(n) {
			continue
		}
		if n.Mode.IsDir() && !t.NS().Empty(n.Ino) {
			continue
		}
		victims = append(victims, victim{name, n})
	}
	var gone []ns.Ino
	for _, v := range victims {
		if err := t.NS().Unlink(l.dir, v.name); err != nil {
			return nil, err
		}
		if v.n.Mode.IsDir() {
			d.Nlink--
		}
		if err := t.DeleteInode(v.n.Ino); err != nil {
			return nil, err
		}
		gone = append(gone, v.n.Ino)
	}
	if len(victims) > 0 {
		d.Mtime = time.Now().UnixNano()
	}
	return gone, t.PutInode(d)
}
