package gateway

import (
	"context"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	nfsfile "github.com/willscott/go-nfs/file"

	"github.com/filegate/filegate/cache"
)

// fileInfo is the fs.FileInfo of Stat and Lstat. Sys returns the
// *nfsfile.FileInfo go-nfs reads for fattr3's nlink, uid, gid, rdev and
// fileid.
type fileInfo struct {
	name string
	attr cache.Attr
	sys  nfsfile.FileInfo
}

func newFileInfo(name string, a cache.Attr) *fileInfo {
	return &fileInfo{name: name, attr: a, sys: sysOf(a)}
}

func sysOf(a cache.Attr) nfsfile.FileInfo {
	return nfsfile.FileInfo{
		Nlink:  a.Nlink,
		UID:    a.UID,
		GID:    a.GID,
		Major:  a.Major,
		Minor:  a.Minor,
		Fileid: uint64(a.Ino),
	}
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.attr.Size }
func (fi *fileInfo) Mode() fs.FileMode  { return wireMode(fi.attr.Mode) }
func (fi *fileInfo) ModTime() time.Time { return fi.attr.Mtime }
func (fi *fileInfo) IsDir() bool        { return fi.attr.IsDir() }
func (fi *fileInfo) Sys() any           { return &fi.sys }

// wireMode is m as go-nfs should put it on the wire. go-nfs sends
// uint32(Mode()) as fattr3's mode, where setuid, setgid and sticky are the
// Unix bits 04000, 02000 and 01000, not Go's fs.ModeSetuid, fs.ModeSetgid
// and fs.ModeSticky (which clients drop with the other high bits). So the
// Unix bits are added beside Go's; fs.FileMode has no other use for them
// and Perm() still masks them off.
func wireMode(m fs.FileMode) fs.FileMode {
	if m&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// entryInfo is the fs.FileInfo of one ReadDir entry. The listing gives
// only name, inode and type; the other attributes are fetched on first
// use, because go-nfs lists the whole directory for every READDIR page but
// describes only the page's entries.
//
// A listing may be served again from the cookie-verifier cache
// (dircache.go) to later pages and later READDIRs; each time, the cache
// bumps the listing's epoch, so attributes are fetched afresh once per
// READDIR call and a client never gets the size a file had minutes ago.
type entryInfo struct {
	fs    *fsys
	name  string
	ino   cache.Ino
	typ   fs.FileMode    // type bits only
	epoch *atomic.Uint64 // shared by the entries of one listing

	mu   sync.Mutex
	seen uint64 // epoch+1 at which attr was fetched; 0: never
	attr cache.Attr
	sys  nfsfile.FileInfo
}

func (e *entryInfo) Name() string { return e.name }
func (e *entryInfo) IsDir() bool  { return e.typ.IsDir() }
func (e *entryInfo) Size() int64 {
	a, _ := e.load()
	return a.Size
}
func (e *entryInfo) Mode() fs.FileMode {
	a, _ := e.load()
	return wireMode(a.Mode)
}
func (e *entryInfo) ModTime() time.Time {
	a, _ := e.load()
	return a.Mtime
}
func (e *entryInfo) Sys() any {
	_, sys := e.load()
	return sys
}

// load returns the entry's attributes as of the current epoch. An entry
// removed since the listing is described by what the listing knew.
func (e *entryInfo) load() (cache.Attr, *nfsfile.FileInfo) {
	want := e.epoch.Load() + 1
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.seen != want {
		a, err := do(e.fs, "getattr", e.name, func(ctx context.Context) (cache.Attr, error) {
			return e.fs.c.GetAttr(ctx, e.ino)
		})
		if err != nil {
			a = cache.Attr{Ino: e.ino, Mode: e.typ, Nlink: 1}
		}
		e.attr, e.sys, e.seen = a, sysOf(a), want
	}
	sys := e.sys
	return e.attr, &sys
}
