package backend

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// MaxNameBytes is the longest path component any store accepts. It matches
// NAME_MAX on Linux and the limit seen on S3-compatible servers backed by a
// POSIX filesystem.
const MaxNameBytes = 255

// MaxKeyBytes is the longest key S3 accepts.
const MaxKeyBytes = 1024

var (
	// ErrInvalidKey marks a key no store can hold (see ValidateKey).
	ErrInvalidKey = errors.New("invalid key")
	// ErrNameTooLong marks a key whose component or total length is over the
	// limit. It also satisfies errors.Is(err, ErrInvalidKey).
	ErrNameTooLong = errors.New("name too long")
	// ErrNotEmpty is returned when deleting a directory marker whose
	// directory still holds entries, on stores where that matters (POSIX).
	ErrNotEmpty = errors.New("directory not empty")
	// ErrChanged is returned by a Get whose key holds another version
	// than the one the caller named (S3: 412 Precondition Failed to
	// If-Match).
	ErrChanged = errors.New("object changed")
)

// Attrs is the POSIX metadata stored with an object. Stores that cannot
// keep some field natively keep it in object metadata.
type Attrs struct {
	// Mode holds the file type bits (fs.ModeDir, fs.ModeSymlink, ...)
	// and the permission bits, including setuid, setgid and sticky.
	Mode  fs.FileMode
	UID   uint32
	GID   uint32
	MTime time.Time
}

// ObjectInfo describes one object, or one common prefix in a delimited
// listing.
type ObjectInfo struct {
	Key     string
	Size    int64
	ModTime time.Time // the store's last-modified time
	ETag    string    // changes whenever the content or metadata changes
	// Prefix is true for a common prefix of a delimited listing ("a/b/"
	// standing for everything under it). Key is set then, and when the
	// directory's marker exists, ModTime, ETag and Attrs are the marker's,
	// so a listing shows a subdirectory's mode and owner too; a bare
	// prefix (keys below it, no marker) has Key alone.
	Prefix bool
	// Attrs is nil when the object carries no POSIX metadata of ours, for
	// example when another tool wrote it.
	Attrs *Attrs
	// Known is set on an item of a listing that the store did not read
	// beyond the listing itself, because the caller said it knows the key
	// (ListOptions.Known). Key, Prefix, Size and ModTime are the
	// listing's; ETag is the caller's when the listing shows the version
	// the caller knows, else empty; Attrs is nil and means nothing.
	Known bool
}

// MtimeNano is the object's modification time in Unix nanoseconds: its
// POSIX metadata's when it has some, else the store's.
func (o ObjectInfo) MtimeNano() int64 {
	if o.Attrs != nil && !o.Attrs.MTime.IsZero() {
		return o.Attrs.MTime.UnixNano()
	}
	return o.ModTime.UnixNano()
}

// ChangedFrom reports whether o is another version of the object than
// the one of etag, size and mtime (MtimeNano) a caller was last in step
// with. A different ETag alone is not enough: a rename in the backend (a
// POSIX rename, an S3 copy) may change it without changing the content.
func (o ObjectInfo) ChangedFrom(etag string, size, mtime int64) bool {
	return o.ETag != etag && (o.Size != size || o.MtimeNano() != mtime)
}

// Known is what a caller of List already holds of a key, so a store can
// skip reading the object (see ListOptions.Known).
type Known struct {
	// Size and ETag are those of the version the caller holds, exactly as
	// this store reported them (from Put, Copy, Stat or List).
	Size int64
	ETag string
	// AnyVersion says the caller needs nothing of the key beyond its
	// presence, whatever version the store holds: its own copy wins, or
	// it never reads those details. Size and ETag are then unused.
	AnyVersion bool
}

// ListOptions selects the keys List visits.
type ListOptions struct {
	// Prefix restricts the listing to keys starting with it.
	Prefix string
	// Delimiter, when "/", rolls every key containing "/" after the prefix
	// up into one ObjectInfo with Prefix set, as S3 does. Only "" and "/"
	// are supported.
	Delimiter string
	// StartAfter lists only keys (and prefixes) sorting strictly after it,
	// so a caller can resume a listing where it stopped.
	StartAfter string
	// KeysOnly asks for keys alone: a store may then leave every other
	// field of ObjectInfo empty, and skip the per-object requests that
	// fetch them (S3's HEADs).
	KeysOnly bool
	// Known, if set, is asked about each object and common prefix the
	// listing finds, before the store reads it, and returns what the
	// caller already holds of that key (ok false: nothing). A store whose
	// listing lacks what a read would give (S3: user metadata, one HEAD
	// per object or marker) skips the read for a key the caller holds in
	// the version the listing shows, for a common prefix the caller
	// holds, and for AnyVersion, and delivers the item with
	// ObjectInfo.Known set. How a store tells versions apart from its
	// listing is its own (S3: content ETag and size). Stores whose
	// listing is complete may ignore Known. It is called from the
	// goroutine that called List, never concurrently.
	Known func(key string) (k Known, ok bool)
}

// ErrStopList may be returned by a List callback to end the listing early;
// List then returns nil.
var ErrStopList = errors.New("stop listing")

// Store is the cloud side of the gateway.
//
// Every method takes a context first and returns promptly when it is
// cancelled, with an error wrapping ctx.Err(). Errors for missing keys
// satisfy errors.Is(err, fs.ErrNotExist). Stores never retry on their own
// unless documented: retries and rate limits are wrappers of this interface,
// so they happen in one layer. Every method is safe for concurrent use.
type Store interface {
	// Stat returns the object's info. A missing key is fs.ErrNotExist.
	// Stat of a directory marker key ("a/") succeeds when the directory
	// exists. Keys are exact: "a" names a file, never the directory "a/",
	// so Stat("a") of a directory is fs.ErrNotExist.
	Stat(ctx context.Context, key string) (ObjectInfo, error)

	// Get returns length bytes of the object starting at off; length < 0
	// means to the end. A range past the end is cut short, never an error,
	// so off >= size returns an empty body. The caller closes the body.
	// A missing key is fs.ErrNotExist. For a symlink object the body is
	// the link target. off < 0 is an error. A directory marker has no
	// body to speak of: object stores return an empty one, stores with
	// real directories fail (EISDIR), so callers should not Get markers.
	//
	// etag, unless empty, is the version the caller reads, an ETag this
	// store reported for the key (from Stat, List, Put or Copy): when the
	// key holds other content by then, Get fails with ErrChanged instead
	// of returning bytes of another version, so an object read in ranges
	// is never put together from two versions. A change of metadata alone
	// (chmod, a rename) may or may not count as another version; a change
	// of content always does, as far as the store can see it (a POSIX file
	// rewritten in place within its mtime's resolution cannot be told).
	Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error)

	// Put stores size bytes read from r under key, replacing any object
	// there, with attrs (nil: the store's defaults). It is atomic: readers
	// see the old object or the new one, never a mix. r may be read more
	// than once; the store seeks it back to the start before each attempt.
	// size must be >= 0; bytes past size are ignored, and an r that ends
	// early fails the Put (io.ErrUnexpectedEOF) leaving key unchanged.
	// When attrs.Mode has fs.ModeSymlink, the body is the link target; when
	// the key ends in "/" the body must be empty and a directory is made.
	// Put is idempotent. It returns the new object's info.
	Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *Attrs) (ObjectInfo, error)

	// Delete removes the object. Deleting a missing key succeeds, so Delete
	// is idempotent. Deleting a directory marker may fail with ErrNotEmpty
	// on stores with real directories while entries remain below it.
	Delete(ctx context.Context, key string) error

	// List calls fn for every key matching opts, in ascending byte order of
	// key, fetching pages as it goes so that memory stays bounded however
	// many keys match. If fn returns ErrStopList the listing ends and List
	// returns nil; any other error from fn ends it and is returned.
	//
	// StartAfter compares against what fn would receive: a common prefix
	// that is not after StartAfter is not repeated, so resuming with the
	// last Key seen, object or prefix, never yields an item twice. A
	// Prefix no valid key can start with ("../") lists nothing; it is not
	// an error. fn may call the store.
	List(ctx context.Context, opts ListOptions, fn func(ObjectInfo) error) error

	// Copy makes dst a copy of src inside the store, without passing the
	// bytes through the caller. When attrs is non-nil it replaces the
	// metadata of the copy; src == dst with attrs set updates metadata in
	// place. A missing src is fs.ErrNotExist. Copy is idempotent.
	// With nil attrs the copy keeps src's metadata where the store can.
	// src and dst are both files or both directory markers; copying a
	// marker copies the marker only, never the keys below it.
	Copy(ctx context.Context, src, dst string, attrs *Attrs) (ObjectInfo, error)
}

// Usage reports the capacity of a store, for stores that have one (a
// POSIX directory). The gateway uses it to answer FSSTAT.
type Usage struct {
	TotalBytes, FreeBytes, TotalFiles, FreeFiles uint64
}

// UsageReporter is implemented by stores that know their capacity.
type UsageReporter interface {
	Usage(ctx context.Context) (Usage, error)
}

// Renamer is implemented by stores that can move a key, and for a
// directory marker everything below it, in one atomic step (a POSIX
// rename). Stores without it are renamed by Copy and Delete of each key.
type Renamer interface {
	// Rename moves src to dst, replacing dst. Both are files or both are
	// directory markers. A missing src is fs.ErrNotExist.
	Rename(ctx context.Context, src, dst string) error
}
