package content

import (
	"maps"
	"math/bits"
	"slices"
	"sync"

	"github.com/filegate/filegate/cache/ns"
)

// Version names the version of a file's content its chunks belong to:
// the backend object a file not wholly local is fetched from. A refresh
// that notes a new version clears the recorded chunks in the same
// transaction, so chunks fetched and recorded later are checked against
// it: bytes of one version are never taken for another's.
type Version struct {
	ETag        string
	Size, Mtime int64
}

// VersionOf is the version of n's content in the cloud.
func VersionOf(n *ns.Inode) Version { return Version{n.ETag, n.Size, n.RemoteMtime} }

// freshLimit is how many fetched chunks may wait to be recorded before
// the recording runs early.
const freshLimit = 256

// Fresh holds the chunks fetched into data files and not yet recorded
// in the namespace: they are recorded only once their data file is
// synced, so a crash never leaves a chunk marked present that is not on
// disk. Each inode's fresh chunks carry the version they belong to.
// Its mutex is a leaf, and may be taken inside namespace updates.
type Fresh struct {
	mu sync.Mutex
	m  map[Ino]*freshChunks
	// count counts the chunks in m.
	count int64
	// kick asks for the fresh chunks to be recorded now.
	kick chan struct{}
}

// freshChunks are chunks of version ver fetched into the data file and
// not yet recorded in the database.
type freshChunks struct {
	ver  Version
	bits Bitmap
}

// NewFresh returns an empty Fresh.
func NewFresh() *Fresh { return &Fresh{m: map[Ino]*freshChunks{}, kick: make(chan struct{}, 1)} }

// Kicked receives when freshLimit chunks wait to be recorded: the
// recording should run before its time.
func (f *Fresh) Kicked() <-chan struct{} { return f.kick }

// Overlay returns b, the chunks of ino recorded, with the fresh chunks
// of version ver added; b may be changed.
func (f *Fresh) Overlay(ino Ino, ver Version, b Bitmap) Bitmap {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := f.m[ino]
	if fc == nil || fc.ver != ver {
		return b
	}
	for i, x := range fc.bits {
		for len(b) <= i {
			b = append(b, 0)
		}
		b[i] |= x
	}
	return b
}

// Mark adds chunk i of ino, of version ver, just written to its data
// file; fresh chunks of another version go, as of no use to anyone.
// Once freshLimit chunks wait to be recorded, it kicks (see Kicked).
func (f *Fresh) Mark(ino Ino, ver Version, i int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fc := f.m[ino]
	if fc == nil || fc.ver != ver {
		if fc != nil {
			f.count -= fc.bits.all()
		}
		fc = &freshChunks{ver: ver}
		f.m[ino] = fc
	}
	if !fc.bits.Has(i) {
		fc.bits.Set(i)
		f.count++
	}
	if f.count >= freshLimit {
		select {
		case f.kick <- struct{}{}:
		default:
		}
	}
}

// Drop forgets ino's fresh chunks, when its local content goes away.
func (f *Fresh) Drop(ino Ino) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fc, ok := f.m[ino]; ok {
		f.count -= fc.bits.all()
		delete(f.m, ino)
	}
}

// Inos lists the inodes with fresh chunks.
func (f *Fresh) Inos() []Ino {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Collect(maps.Keys(f.m))
}

// Count is how many fresh chunks there are.
func (f *Fresh) Count() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count
}

// A Snapshot is the fresh chunks of one inode at one moment, to be
// recorded once its data file is synced.
type Snapshot struct {
	ino Ino
	// entry is the set of chunks snapped: a drop replaces it by
	// another, whose chunks went into a data file after the sync.
	entry *freshChunks
	Ver   Version
	Bits  Bitmap
}

// Snap returns ino's fresh chunks now; its Bits are empty when there
// are none.
func (f *Fresh) Snap(ino Ino) Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := Snapshot{ino: ino, entry: f.m[ino]}
	if s.entry != nil {
		s.Ver, s.Bits = s.entry.ver, slices.Clone(s.entry.bits)
	}
	return s
}

// Merge adds to b, the chunks recorded, those of s still fresh: those
// dropped since the snapshot may be gone from the data file.
func (f *Fresh) Merge(s Snapshot, b Bitmap) Bitmap {
	f.mu.Lock()
	defer f.mu.Unlock()
	var still Bitmap
	if f.m[s.ino] == s.entry {
		still = s.entry.bits
	}
	for i, x := range s.Bits {
		if i < len(still) {
			for len(b) <= i {
				b = append(b, 0)
			}
			b[i] |= x & still[i]
		}
	}
	return b
}

// Done forgets the chunks of s, recorded now, or all of the inode's
// when stale (they belong to a version the namespace no longer holds),
// unless the inode's fresh chunks were dropped and replaced meanwhile.
func (f *Fresh) Done(s Snapshot, stale bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.m[s.ino]
	if cur == nil || cur != s.entry {
		return
	}
	left := false
	for i := range cur.bits {
		if i < len(s.Bits) && !stale {
			f.count -= int64(bits.OnesCount8(cur.bits[i] & s.Bits[i]))
			cur.bits[i] &^= s.Bits[i]
		}
		left = left || cur.bits[i] != 0
	}
	if !left || stale {
		f.count -= cur.bits.all()
		delete(f.m, s.ino)
	}
}
