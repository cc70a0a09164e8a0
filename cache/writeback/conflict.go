package writeback

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/ns"
)

// keepTheirs runs before a file is uploaded over key. When someone else
// changed the object in the cloud since this inode was last in step with
// it, their version is copied aside under a conflict name, so both
// survive: ours at key, theirs beside it. It returns the conflict key,
// or "" when there was nothing to keep.
func (q *Queue) keepTheirs(ctx context.Context, key string, n *ns.Inode, earlier uploadIntent) (string, error) {
	info, err := q.store.Stat(ctx, key)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("check %s before upload: %w", key, err)
	}
	if info.Size == n.Size && info.MtimeNano() == n.Mtime {
		return "", nil // our own upload, replayed after a crash
	}
	if earlier.ok && info.Size == earlier.size && info.MtimeNano() == earlier.mtime {
		return "", nil // an earlier attempt of this upload landed before a crash
	}
	if n.Has(ns.FlagRemote) && !info.ChangedFrom(n.ETag, n.RemoteSize, n.RemoteMtime) {
		return "", nil
	}
	aside := conflictKey(key, time.Now())
	if _, err := q.store.Copy(ctx, key, aside, nil); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil // gone meanwhile: nothing to keep
		}
		return "", fmt.Errorf("keep the cloud's version of %s: %w", key, err)
	}
	q.conflicts.Add(1)
	q.log.Warn("file changed both here and in the cloud; the cloud's version is kept beside ours",
		"op", "conflict", "key", key, "path", aside)
	return aside, nil
}

// conflictKey names the copy of the cloud's version in a conflict:
// "report.docx" becomes "report.conflict-20261126-063000.docx", keeping
// the extension so the file still opens in its application.
func conflictKey(key string, now time.Time) string {
	dir, name := path.Split(key)
	ext := path.Ext(name)
	if ext == name || len(ext) > 16 {
		ext = "" // ".bashrc", or no real extension
	}
	base := strings.TrimSuffix(name, ext)
	tag := ".conflict-" + now.UTC().Format("20060102-150405")
	if room := backend.MaxNameBytes - len(tag) - len(ext); len(base) > room {
		base = base[:max(room, 0)]
	}
	return dir + base + tag + ext
}

// markStale makes the directory at dirPath ("." for the root) list
// again from the backend at its next use, so the conflict copy shows.
func markStale(t Tx, dirPath string) error {
	ino := ns.RootIno
	if dirPath != "." && dirPath != "" {
		for _, name := range strings.Split(dirPath, "/") {
			child, _, err := t.NS().Lookup(ino, name)
			if errors.Is(err, syscall.ENOENT) {
				return nil // moved or removed since
			}
			if err != nil {
				return err
			}
			ino = child
		}
	}
	d, err := t.NS().GetDir(ino)
	if err != nil {
		return nil
	}
	d.LoadedAt = 0
	return t.PutInode(d)
}
