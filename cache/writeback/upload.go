package writeback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/ns"
)

// applyPut uploads what the inode of o is now (file content, directory
// marker or symlink) and, when it did not change meanwhile, marks it
// clean.
func (q *Queue) applyPut(ctx context.Context, seq []byte, o Op) error {
	var n *ns.Inode
	var writes int64
	var unstable bool
	err := q.host.View(func(t Tx) error {
		var err error
		n, err = t.Inode(o.Ino)
		if errors.Is(err, syscall.ESTALE) {
			n, err = nil, nil
		}
		writes, unstable = t.Unstable(o.Ino)
		return err
	})
	if err != nil {
		return err
	}
	if n == nil {
		return q.finish(seq, o, nil) // removed before it was uploaded
	}
	// Even a slow link moves 256 KiB/s; slower than that, the upload is
	// taken for hung and tried again.
	ctx, cancel := context.WithTimeout(ctx, q.cfg.OpTimeout+time.Duration(n.Size/(256<<10))*time.Second)
	defer cancel()
	attrs := backendAttrs(n)
	var info backend.ObjectInfo
	switch {
	case n.Mode.IsDir():
		info, err = q.store.Put(ctx, o.Key, strings.NewReader(""), 0, attrs)
	case n.Mode&fs.ModeSymlink != 0:
		info, err = q.store.Put(ctx, o.Key, strings.NewReader(n.Target), int64(len(n.Target)), attrs)
	case n.Mode.IsRegular() && n.Has(ns.FlagLocal):
		var conflict string
		if conflict, err = q.keepTheirs(ctx, o.Key, n, parseIntent(o.Key2)); err != nil {
			return err
		}
		// Note what is about to be uploaded in the op itself: if the
		// upload lands but a crash comes before it is recorded, the
		// replay knows the object for ours, not someone else's.
		o.Key2 = intent(n)
		if err := q.host.Update(func(t Tx) error {
			if t.NS().Journal.Get(seq) == nil {
				return nil
			}
			return t.NS().Journal.Put(seq, o.Marshal())
		}); err != nil {
			return err
		}
		if conflict != "" {
			if err := q.host.Update(func(t Tx) error { return markStale(t, path.Dir(o.Key)) }); err != nil {
				return err
			}
		}
		// A remove does not cancel the upload, though it holds the
		// removed data file open (its space is free when it ends): a
		// store may still apply an aborted PUT after the DELETE that
		// follows, and the removed file would be back.
		info, err = q.putFile(ctx, o.Key, n, attrs)
		if err != nil && ctx.Err() == nil && q.changedSince(o.Ino, n, writes, unstable) {
			return fmt.Errorf("%w: %w", errUploadRaced, err)
		}
	default:
		if n.Mode.IsRegular() && n.Has(ns.FlagDirty) {
			// Never so: a write makes its file local first, and a
			// refresh leaves a file being written alone.
			q.log.Error("a dirty file's content is not in the cache; not uploaded", "op", "upload", "key", o.Key)
		}
		return q.finish(seq, o, nil)
	}
	if err != nil {
		return err
	}
	q.uploads.Add(1)
	q.uploadBytes.Add(info.Size)
	return q.finish(seq, o, func(t Tx) error {
		cur, err := t.Inode(o.Ino)
		if err != nil {
			return nil
		}
		cur.Flags |= ns.FlagRemote
		cur.ETag = info.ETag
		if n.Mode.IsRegular() {
			cur.RemoteSize, cur.RemoteMtime = info.Size, n.Mtime
		}
		// Unstable writes not yet committed keep it dirty: they may
		// have landed after the upload read the file.
		_, unstable := t.Unstable(o.Ino)
		if !unstable && cur.Version == n.Version && cur.Mtime == n.Mtime && cur.Mode == n.Mode && cur.UID == n.UID && cur.GID == n.GID {
			if err := t.Changes().ClearDirty(t.NS(), cur); err != nil {
				return err
			}
		} else if cur.Has(ns.FlagDirty) {
			// Changed during the upload: the scanner queues it again.
		} else if err := t.Changes().Enqueue(t.NS(), Op{Kind: SetMeta, Ino: cur.Ino, Key: o.Key}); err != nil {
			return err
		}
		return t.PutInode(cur)
	})
}

// changedSince reports whether ino's content changed since it was n,
// with writes unstable writes (if unstable) pending.
func (q *Queue) changedSince(ino ns.Ino, n *ns.Inode, writes int64, unstable bool) bool {
	changed := false
	_ = q.host.View(func(t Tx) error {
		cur, err := t.Inode(ino)
		if err != nil {
			return err // removed: the next attempt finds nothing to do
		}
		nowWrites, nowUnstable := t.Unstable(ino)
		changed = cur.Version != n.Version || cur.Size != n.Size ||
			nowUnstable != unstable || nowWrites != writes
		return nil
	})
	return changed
}

// putFile uploads the local data of n. A write racing the upload bumps
// n.Version, which keeps the inode dirty for another upload.
func (q *Queue) putFile(ctx context.Context, key string, n *ns.Inode, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	f, err := q.host.OpenData(n.Ino)
	if errors.Is(err, fs.ErrNotExist) {
		// Created, never written: an empty file.
		return q.store.Put(ctx, key, strings.NewReader(""), 0, attrs)
	}
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	if st.Size() < n.Size {
		// The size was recorded but the data never reached the file
		// (a crash between the two): the missing tail reads as zeros.
		if err := f.Truncate(n.Size); err != nil {
			return backend.ObjectInfo{}, err
		}
	}
	return q.store.Put(ctx, key, io.NewSectionReader(f, 0, n.Size), n.Size, attrs)
}

// uploadIntent is the size and mtime of a file being uploaded, kept in
// its Put record (Key2, unused otherwise).
type uploadIntent struct {
	ok          bool
	size, mtime int64
}

func intent(n *ns.Inode) string { return fmt.Sprintf("%d:%d", n.Size, n.Mtime) }

func parseIntent(s string) uploadIntent {
	var u uploadIntent
	if _, err := fmt.Sscanf(s, "%d:%d", &u.size, &u.mtime); err == nil {
		u.ok = true
	}
	return u
}
