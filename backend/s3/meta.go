package s3

import (
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/filegate/filegate/backend"
)

// User metadata keys of filegate's POSIX attributes, as the SDK names
// them (on the wire each is "x-amz-meta-" + the name). All five are
// written together; an object without a valid set has nil Attrs.
const (
	metaType  = "filegate-type"  // "file", "dir" or "symlink"
	metaMode  = "filegate-mode"  // octal permission bits with setuid 4000, setgid 2000, sticky 1000
	metaUID   = "filegate-uid"   // decimal
	metaGID   = "filegate-gid"   // decimal
	metaMTime = "filegate-mtime" // decimal nanoseconds since the Unix epoch
)

var ourMeta = [...]string{metaType, metaMode, metaUID, metaGID, metaMTime}

const (
	typeFile    = "file"
	typeDir     = "dir"
	typeSymlink = "symlink"
)

// isMarker reports whether key is a directory marker.
func isMarker(key string) bool { return strings.HasSuffix(key, "/") }

// encodeAttrs returns the user metadata recording a for key, or nil for
// nil a. The key decides between directory and file; a's type bits
// between file and symlink.
func encodeAttrs(key string, a *backend.Attrs) map[string]string {
	if a == nil {
		return nil
	}
	typ := typeFile
	switch {
	case isMarker(key):
		typ = typeDir
	case a.Mode&fs.ModeSymlink != 0:
		typ = typeSymlink
	}
	return map[string]string{
		metaType:  typ,
		metaMode:  strconv.FormatUint(uint64(unixPerm(a.Mode)), 8),
		metaUID:   strconv.FormatUint(uint64(a.UID), 10),
		metaGID:   strconv.FormatUint(uint64(a.GID), 10),
		metaMTime: strconv.FormatInt(a.MTime.UnixNano(), 10),
	}
}

// decodeAttrs reads the attributes of key from its user metadata (keys
// lowercase, as the SDK returns them). It returns nil when any of ours is
// missing or malformed, or the type contradicts the key, so a damaged or
// foreign object gets the gateway's defaults rather than a guess.
func decodeAttrs(key string, md map[string]string) *backend.Attrs {
	typ, ok := md[metaType]
	if !ok {
		return nil
	}
	var mode fs.FileMode
	switch {
	case isMarker(key):
		if typ != typeDir {
			return nil
		}
		mode = fs.ModeDir
	case typ == typeFile:
	case typ == typeSymlink:
		mode = fs.ModeSymlink
	default:
		return nil
	}
	perm, err := strconv.ParseUint(md[metaMode], 8, 32)
	if err != nil || perm > 0o7777 {
		return nil
	}
	uid, err1 := strconv.ParseUint(md[metaUID], 10, 32)
	gid, err2 := strconv.ParseUint(md[metaGID], 10, 32)
	ns, err3 := strconv.ParseInt(md[metaMTime], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return nil
	}
	return &backend.Attrs{
		Mode:  mode | fileMode(uint32(perm)),
		UID:   uint32(uid),
		GID:   uint32(gid),
		MTime: time.Unix(0, ns),
	}
}

// unixPerm converts the permission bits of m to Unix octal form.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

// fileMode converts Unix permission bits to an fs.FileMode.
func fileMode(p uint32) fs.FileMode {
	m := fs.FileMode(p) & fs.ModePerm
	if p&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if p&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if p&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// mergeMeta returns src's user metadata with ours replaced by attrs', so
// a chmod of an object written by another tool keeps that tool's keys.
func mergeMeta(src map[string]string, key string, attrs *backend.Attrs) map[string]string {
	out := make(map[string]string, len(src)+len(ourMeta))
	for k, v := range src {
		out[k] = v
	}
	for _, k := range ourMeta {
		delete(out, k)
	}
	for k, v := range encodeAttrs(key, attrs) {
		out[k] = v
	}
	return out
}

// etag is the ObjectInfo.ETag of an object: S3's ETag, which follows the
// content only (a metadata-only CopyObject keeps it), joined with a hash
// of our metadata, so a chmod, chown or utimes changes it too, as the
// backend contract asks.
func etag(s3ETag *string, md map[string]string) string {
	e := ""
	if s3ETag != nil {
		e = strings.Trim(*s3ETag, `"`)
	}
	if _, ok := md[metaType]; !ok {
		return e
	}
	h := fnv.New64a()
	for _, k := range ourMeta {
		h.Write([]byte(md[k]))
		h.Write([]byte{0})
	}
	return e + ":" + strconv.FormatUint(h.Sum64(), 16)
}

// contentETag is the S3 part of an ETag made by etag: what a listing,
// which carries no user metadata, shows of the same object.
func contentETag(e string) string {
	if i := strings.LastIndexByte(e, ':'); i >= 0 {
		return e[:i]
	}
	return e
}
