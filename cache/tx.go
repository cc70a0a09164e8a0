package cache

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"syscall"

	"github.com/filegate/filegate/cache/ns"
)

// Bucket names of the namespace database. See docs/ARCHITECTURE.md.
var (
	bucketMeta    = []byte("meta")    // counters and format
	bucketInodes  = []byte("inodes")  // ino -> inode record
	bucketDirents = []byte("dirents") // dir ino + name -> child, cookie, type
	bucketCookies = []byte("cookies") // dir ino + cookie -> name
	bucketLinks   = []byte("links")   // ino + dir ino + name, for hard-linked inodes
	bucketDirty   = []byte("dirty")   // ino -> nothing: files awaiting upload
	bucketJournal = []byte("journal") // seq -> op, applied to the backend in order
)

var (
	keyNextIno = []byte("next-ino")
	keyNextSeq = []byte("next-seq")
	keyFormat  = []byte("format")
)

const dbFormat = 1

// txn is a view of the namespace (see nsdb.go) with its helpers.
type txn struct {
	meta, inodes, dirents, cookies, links, dirty *bucket
	journal, inline, chunkBits                   *bucket
	// queued is set when the transaction added journal records, so the
	// caller wakes the write-back worker after commit.
	queued bool
	// pending, when set, returns the uncommitted unstable writes of an
	// inode, which get overlays on the stored record.
	pending func(Ino) (pendingAttr, bool)
	// enqueued counts the ops this transaction journalled.
	enqueued int64
	// queuedPuts lists inodes whose opPut this transaction journalled.
	queuedPuts []Ino
	// dirtied maps inodes whose dirty state changed to their size, or
	// to -1 when they turned clean, for the in-memory dirty accounting.
	dirtied map[Ino]int64
}

func (t *txn) counter(key []byte) uint64 {
	v := t.meta.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func (t *txn) bump(key []byte) (uint64, error) {
	n := t.counter(key) + 1
	return n, t.meta.Put(key, binary.BigEndian.AppendUint64(nil, n))
}

// get returns the inode, or ESTALE when it no longer exists.
func (t *txn) get(ino Ino) (*ns.Inode, error) {
	v := t.inodes.Get(ns.InoKey(ino))
	if v == nil {
		return nil, syscall.ESTALE
	}
	n, err := ns.UnmarshalInode(v)
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	if t.pending != nil {
		if p, ok := t.pending(ino); ok {
			p.apply(n)
		}
	}
	return n, nil
}

// getDir returns the inode when it is a directory: ENOTDIR otherwise.
func (t *txn) getDir(ino Ino) (*ns.Inode, error) {
	n, err := t.get(ino)
	if err != nil {
		return nil, err
	}
	if !n.Mode.IsDir() {
		return nil, syscall.ENOTDIR
	}
	return n, nil
}

// put stores n. A file whose content is no longer local loses its
// inline record with it: what the record held is in the backend.
func (t *txn) put(n *ns.Inode) error {
	if n.Mode.IsRegular() && !n.Has(ns.FlagLocal) {
		if err := t.dropInline(n.Ino); err != nil {
			return err
		}
	}
	return t.inodes.Put(ns.InoKey(n.Ino), n.Marshal())
}

// delete removes the inode ino and its inline record.
func (t *txn) delete(ino Ino) error {
	if err := t.dropInline(ino); err != nil {
		return err
	}
	return t.inodes.Delete(ns.InoKey(ino))
}

// newInode allocates the next inode number; numbers are never reused.
func (t *txn) newInode() (*ns.Inode, error) {
	next, err := t.bump(keyNextIno)
	if err != nil {
		return nil, err
	}
	return &ns.Inode{Ino: Ino(next), Gen: ns.NewGen(), Nlink: 1}, nil
}

// lookup returns the child of dir named name, or ENOENT.
func (t *txn) lookup(dir Ino, name string) (Ino, fs.FileMode, error) {
	v := t.dirents.Get(ns.DirentKey(dir, name))
	if v == nil {
		return 0, 0, syscall.ENOENT
	}
	child, _, mode, err := ns.ParseDirent(v)
	return child, mode, err
}

// link adds the entry name -> child to parent, giving it the next
// cookie; parent is written back.
func (t *txn) link(parent *ns.Inode, name string, child *ns.Inode) error {
	parent.NextCookie++
	cookie := parent.NextCookie
	if err := t.dirents.Put(ns.DirentKey(parent.Ino, name), ns.DirentValue(child.Ino, cookie, child.Mode)); err != nil {
		return err
	}
	if err := t.cookies.Put(ns.CookieKey(parent.Ino, cookie), []byte(name)); err != nil {
		return err
	}
	return t.put(parent)
}

// unlink removes the entry name from dir.
func (t *txn) unlink(dir Ino, name string) error {
	k := ns.DirentKey(dir, name)
	v := t.dirents.Get(k)
	if v == nil {
		return syscall.ENOENT
	}
	_, cookie, _, err := ns.ParseDirent(v)
	if err != nil {
		return err
	}
	if err := t.dirents.Delete(k); err != nil {
		return err
	}
	return t.cookies.Delete(ns.CookieKey(dir, cookie))
}

// empty reports whether dir has no entries.
func (t *txn) empty(dir Ino) bool {
	prefix := ns.InoKey(dir)
	k, _ := t.dirents.Cursor().Seek(prefix)
	return k == nil || !bytes.HasPrefix(k, prefix)
}

// enqueue appends o to the journal.
func (t *txn) enqueue(o op) error {
	seq, err := t.bump(keyNextSeq)
	if err != nil {
		return err
	}
	t.queued = true
	t.enqueued++
	if o.kind == opPut {
		t.queuedPuts = append(t.queuedPuts, o.ino)
	}
	return t.journal.Put(binary.BigEndian.AppendUint64(nil, seq), o.marshal())
}

// setDirty marks n dirty; call it after n.size has its new value.
func (t *txn) setDirty(n *ns.Inode) error {
	t.noteDirty(n.Ino, n.Size)
	if n.Has(ns.FlagDirty) {
		return nil
	}
	n.Flags |= ns.FlagDirty
	return t.dirty.Put(ns.InoKey(n.Ino), nil)
}

func (t *txn) clearDirty(n *ns.Inode) error {
	t.noteDirty(n.Ino, -1)
	n.Flags &^= ns.FlagDirty
	return t.dirty.Delete(ns.InoKey(n.Ino))
}

func (t *txn) noteDirty(ino Ino, size int64) {
	if t.dirtied == nil {
		t.dirtied = map[Ino]int64{}
	}
	t.dirtied[ino] = size
}

// path returns ino's path from the root by its primary links.
func (t *txn) path(ino Ino) (string, error) {
	var parts []string
	for depth := 0; ino != RootIno; depth++ {
		if depth > 4096 {
			return "", fmt.Errorf("cache: path of inode %d: parent loop", ino)
		}
		n, err := t.get(ino)
		if err != nil {
			return "", err
		}
		parts = append(parts, n.Name)
		ino = n.Parent
	}
	var b []byte
	for i := len(parts) - 1; i >= 0; i-- {
		if len(b) > 0 {
			b = append(b, '/')
		}
		b = append(b, parts[i]...)
	}
	return string(b), nil
}

// key returns the backend key of n: its path, with "/" after a directory.
func (t *txn) key(n *ns.Inode) (string, error) {
	p, err := t.path(n.Ino)
	if err != nil || !n.Mode.IsDir() {
		return p, err
	}
	return p + "/", nil
}
