package ns

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io/fs"
	"syscall"

	bolt "go.etcd.io/bbolt"
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
	bucketChunks  = []byte("chunks")  // ino -> bitmap of chunks present
	// bucketInline maps ino -> stamp (8) + content, for small files
	// committed but not yet fsynced in their data file.
	bucketInline = []byte("inline")
)

// nsBuckets lists the namespace's buckets; a log record names a bucket
// by its index here, so the order never changes.
var nsBuckets = [][]byte{bucketMeta, bucketInodes, bucketDirents, bucketCookies, bucketLinks,
	bucketDirty, bucketJournal, bucketChunks, bucketInline}

var keyNextIno = []byte("next-ino")

// KeyFormat is the key in Meta of the database format.
var KeyFormat = []byte("format")

// Database formats, kept in Meta under KeyFormat. A filegate refuses a
// format newer than it knows, so each says what an older release could
// not read.
const (
	// Format is the base format, which every release reads.
	Format = 1
	// FormatInline is the format while the Inline bucket holds records:
	// a filegate that does not know them refuses the database instead of
	// serving files without their content. It goes back to Format when
	// the records are settled, so an orderly stop leaves a database any
	// release reads.
	FormatInline = 2
	// FormatLog is the format while the database is open or was not
	// closed cleanly: the log may hold updates a filegate that does not
	// know the log would miss. Close sets it back to Format or
	// FormatInline.
	FormatLog = 3
)

// Tx is a view of the namespace: read-only in DB.View, an update in
// DB.Update.
//
// Its fields are the database's buckets. Inodes, Dirents and Cookies are
// written through the methods below, which keep them consistent with
// each other; the cache reads them directly to list and scan. The names
// of hard-linked inodes are reached only through PutLink, DeleteLink
// and FirstLink. The other buckets belong to the rooms that use them:
// Meta holds counters, Dirty and Journal the write-back's state, Inline
// and Chunks the content's.
type Tx struct {
	Meta, Inodes, Dirents, Cookies *Bucket
	links                          *Bucket
	Dirty, Journal, Inline, Chunks *Bucket
}

// newTx returns a view of tx; with rec set, its changes are recorded.
func newTx(tx *bolt.Tx, rec *recorder) *Tx {
	t := &Tx{}
	for i, p := range []**Bucket{&t.Meta, &t.Inodes, &t.Dirents, &t.Cookies, &t.links, &t.Dirty, &t.Journal, &t.Chunks, &t.Inline} {
		*p = &Bucket{b: tx.Bucket(nsBuckets[i]), id: byte(i), rec: rec}
	}
	return t
}

// Counter returns the counter stored in Meta under key, 0 when unset.
func (t *Tx) Counter(key []byte) uint64 {
	v := t.Meta.Get(key)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

// Bump increments the counter under key and returns its new value.
func (t *Tx) Bump(key []byte) (uint64, error) {
	n := t.Counter(key) + 1
	return n, t.Meta.Put(key, binary.BigEndian.AppendUint64(nil, n))
}

// Get returns the inode, or ESTALE when it no longer exists.
func (t *Tx) Get(ino Ino) (*Inode, error) {
	v := t.Inodes.Get(InoKey(ino))
	if v == nil {
		return nil, syscall.ESTALE
	}
	n, err := UnmarshalInode(v)
	if err != nil {
		return nil, fmt.Errorf("inode %d: %w", ino, err)
	}
	return n, nil
}

// GetDir returns the inode when it is a directory: ENOTDIR otherwise.
func (t *Tx) GetDir(ino Ino) (*Inode, error) {
	n, err := t.Get(ino)
	if err != nil {
		return nil, err
	}
	if !n.Mode.IsDir() {
		return nil, syscall.ENOTDIR
	}
	return n, nil
}

// Put stores n.
func (t *Tx) Put(n *Inode) error { return t.Inodes.Put(InoKey(n.Ino), n.Marshal()) }

// Delete removes the inode ino.
func (t *Tx) Delete(ino Ino) error { return t.Inodes.Delete(InoKey(ino)) }

// NewInode allocates the next inode number; numbers are never reused.
// The inode is not stored until Put.
func (t *Tx) NewInode() (*Inode, error) {
	next, err := t.Bump(keyNextIno)
	if err != nil {
		return nil, err
	}
	return &Inode{Ino: Ino(next), Gen: NewGen(), Nlink: 1}, nil
}

// Lookup returns the child of dir named name, or ENOENT.
func (t *Tx) Lookup(dir Ino, name string) (Ino, fs.FileMode, error) {
	v := t.Dirents.Get(DirentKey(dir, name))
	if v == nil {
		return 0, 0, syscall.ENOENT
	}
	child, _, mode, err := ParseDirent(v)
	return child, mode, err
}

// Link adds the entry name -> child to parent, giving it the next
// cookie; parent is written back.
func (t *Tx) Link(parent *Inode, name string, child *Inode) error {
	parent.NextCookie++
	cookie := parent.NextCookie
	if err := t.Dirents.Put(DirentKey(parent.Ino, name), direntValue(child.Ino, cookie, child.Mode)); err != nil {
		return err
	}
	if err := t.Cookies.Put(CookieKey(parent.Ino, cookie), []byte(name)); err != nil {
		return err
	}
	return t.Put(parent)
}

// Unlink removes the entry name from dir.
func (t *Tx) Unlink(dir Ino, name string) error {
	k := DirentKey(dir, name)
	v := t.Dirents.Get(k)
	if v == nil {
		return syscall.ENOENT
	}
	_, cookie, _, err := ParseDirent(v)
	if err != nil {
		return err
	}
	if err := t.Dirents.Delete(k); err != nil {
		return err
	}
	return t.Cookies.Delete(CookieKey(dir, cookie))
}

// PutLink records name in dir as one of the names of ino. An inode with
// more than one name has every name recorded, so that another can
// become its primary name when that one goes.
func (t *Tx) PutLink(ino, dir Ino, name string) error {
	return t.links.Put(LinkKey(ino, dir, name), nil)
}

// DeleteLink removes the record of name in dir as a name of ino; a
// missing record is no error.
func (t *Tx) DeleteLink(ino, dir Ino, name string) error {
	return t.links.Delete(LinkKey(ino, dir, name))
}

// FirstLink returns the recorded name of ino that sorts first (by
// directory, then name); false when ino has none recorded.
func (t *Tx) FirstLink(ino Ino) (Ino, string, bool) {
	prefix := InoKey(ino)
	k, _ := t.links.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) < 16 {
		return 0, "", false
	}
	return Ino(binary.BigEndian.Uint64(k[8:16])), string(k[16:]), true
}

// Empty reports whether dir has no entries.
func (t *Tx) Empty(dir Ino) bool {
	prefix := InoKey(dir)
	k, _ := t.Dirents.Cursor().Seek(prefix)
	return k == nil || !bytes.HasPrefix(k, prefix)
}

// Path returns ino's path from the root by its primary links.
func (t *Tx) Path(ino Ino) (string, error) {
	var parts []string
	for depth := 0; ino != RootIno; depth++ {
		if depth > 4096 {
			return "", fmt.Errorf("cache: path of inode %d: parent loop", ino)
		}
		n, err := t.Get(ino)
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

// Key returns the backend key of n: its path, with "/" after a directory.
func (t *Tx) Key(n *Inode) (string, error) {
	p, err := t.Path(n.Ino)
	if err != nil || !n.Mode.IsDir() {
		return p, err
	}
	return p + "/", nil
}

// closingFormat is the format an orderly close leaves: what a release
// without the namespace log reads, unless inline records are left.
func (t *Tx) closingFormat() uint64 {
	if k, _ := t.Inline.Cursor().First(); k != nil {
		return FormatInline
	}
	return Format
}
