package gateway

import (
	"encoding/binary"
	"hash/fnv"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	nfsfile "github.com/willscott/go-nfs/file"
)

// dirCache backs go-nfs's CachingHandler hooks. go-nfs does not page
// READDIR by the cache's stable cookies: for every page it lists the whole
// directory, sorts it by name and uses the index in that listing (+2) as
// the cookie. Its cookie verifier, unless the Handler supplies one, is a
// hash of the names, checked only on a non-zero cookie: a change to the
// directory between pages makes the next page NFS3ERR_BAD_COOKIE (correct),
// and an unchanged one is listed again in full per page (quadratic: 1,430
// full listings of a 10,000-entry directory at go-nfs-client's 7 entries
// a page).
//
// So listings are kept here, keyed by their verifier, and later pages are
// cut from the same listing: every page of one pass comes from one
// snapshot, so each entry is returned exactly once even while the
// directory changes, and a page costs O(page) cache calls. The verifier is
// a hash of the entries' inode numbers and names: the same contents give
// the same verifier (after a restart too, so a client paging across one
// gets no BAD_COOKIE), two identical listings share one snapshot, and a
// snapshot evicted before the client is done is listed again and, if the
// directory changed meanwhile, answered with BAD_COOKIE, as NFS intends.
// The hash ignores the directory's path: equal contents are equal
// answers, whichever directory asked.
type dirCache struct {
	maxEntries int

	mu      sync.Mutex
	lru     *simplelru.LRU[uint64, *dirSnap]
	entries int // total entries held by lru's snapshots
}

// dirSnap is one listing, shared by every READDIR served from it.
type dirSnap struct {
	infos []fs.FileInfo
	epoch *atomic.Uint64
}

// Bounds of the verifier cache: a listing costs about 150 bytes an entry,
// so the cache holds at most about 40 MB. A directory bigger than
// maxEntries is never kept and falls back to go-nfs's re-listing.
const (
	dirCacheListings = 1024
	dirCacheEntries  = 1 << 18
)

func newDirCache(listings, maxEntries int) *dirCache {
	d := &dirCache{maxEntries: maxEntries}
	// The callback runs inside Add and RemoveOldest, under d.mu.
	d.lru, _ = simplelru.NewLRU(listings, func(_ uint64, s *dirSnap) {
		d.entries -= len(s.infos)
	})
	return d
}

// verifierFor returns the verifier of contents (sorted by name) and keeps
// contents for later pages.
func (d *dirCache) verifierFor(contents []fs.FileInfo) uint64 {
	v := verifierOf(contents)
	if len(contents) > d.maxEntries {
		return v
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.lru.Get(v); ok {
		return v
	}
	snap := &dirSnap{infos: contents, epoch: new(atomic.Uint64)}
	if len(contents) > 0 {
		if e, ok := contents[0].(*entryInfo); ok {
			snap.epoch = e.epoch
		}
	}
	d.lru.Add(v, snap)
	d.entries += len(contents)
	for d.entries > d.maxEntries {
		d.lru.RemoveOldest()
	}
	return v
}

// dataFor returns the listing with verifier v, or nil if it is not kept.
// Its entries will fetch their attributes afresh.
func (d *dirCache) dataFor(v uint64) []fs.FileInfo {
	d.mu.Lock()
	snap, ok := d.lru.Get(v)
	d.mu.Unlock()
	if !ok {
		return nil
	}
	snap.epoch.Add(1)
	if snap.infos == nil {
		return []fs.FileInfo{}
	}
	return snap.infos
}

// verifierOf hashes the inode numbers and names of contents. Zero means
// "no verifier" in NFS, so it is never returned.
func verifierOf(contents []fs.FileInfo) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for _, c := range contents {
		var ino uint64
		switch e := c.(type) {
		case *entryInfo:
			ino = uint64(e.ino)
		default:
			if s, ok := c.Sys().(*nfsfile.FileInfo); ok {
				ino = s.Fileid
			}
		}
		binary.BigEndian.PutUint64(b[:], ino)
		h.Write(b[:])
		h.Write([]byte(c.Name()))
		h.Write([]byte{0})
	}
	v := h.Sum64()
	if v == 0 {
		v = 1
	}
	return v
}
