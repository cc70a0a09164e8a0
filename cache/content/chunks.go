package content

import (
	"math/bits"

	"github.com/filegate/filegate/cache/ns"
)

// ChunkSize is the unit in which file contents are fetched and tracked:
// a file not wholly in the cache has a bitmap of the chunks it holds.
const ChunkSize = 1 << 20

// ChunkRange returns the chunks covering [off, end).
func ChunkRange(off, end int64) (first, last int64) {
	return off / ChunkSize, (end - 1) / ChunkSize
}

// ChunkCount is how many chunks a file of size bytes has.
func ChunkCount(size int64) int64 { return (size + ChunkSize - 1) / ChunkSize }

// Bitmap is a set of chunk indexes.
type Bitmap []byte

// Has reports whether chunk i is in b.
func (b Bitmap) Has(i int64) bool {
	return i/8 < int64(len(b)) && b[i/8]&(1<<(i%8)) != 0
}

// Set adds chunk i to b.
func (b *Bitmap) Set(i int64) {
	for int64(len(*b)) <= i/8 {
		*b = append(*b, 0)
	}
	(*b)[i/8] |= 1 << (i % 8)
}

// Count returns how many of the first n chunks are present.
func (b Bitmap) Count(n int64) int64 {
	var c int64
	for i, x := range b {
		if int64(i)*8 >= n {
			break
		}
		if rest := n - int64(i)*8; rest < 8 {
			x &= byte(1<<rest - 1)
		}
		c += int64(bits.OnesCount8(x))
	}
	return c
}

// Full reports whether all n chunks are present.
func (b Bitmap) Full(n int64) bool { return b.Count(n) == n }

// all counts every chunk in b.
func (b Bitmap) all() int64 { return b.Count(int64(len(b)) * 8) }

// Chunks returns the chunk bitmap recorded for ino (nil when none are),
// a copy the caller may change.
func Chunks(t *ns.Tx, ino Ino) Bitmap {
	v := t.Chunks.Get(ns.InoKey(ino))
	if v == nil {
		return nil
	}
	return append(Bitmap(nil), v...)
}

// PutChunks records b as the chunks present of ino; an empty b deletes
// the record (none present, or the file is wholly local).
func PutChunks(t *ns.Tx, ino Ino, b Bitmap) error {
	if len(b) == 0 {
		return t.Chunks.Delete(ns.InoKey(ino))
	}
	return t.Chunks.Put(ns.InoKey(ino), b)
}

// LocalBytes is what n's data occupies in the cache, for accounting,
// given its recorded chunks b.
func LocalBytes(n *ns.Inode, b Bitmap) int64 {
	if n.Has(ns.FlagLocal) {
		return n.Size
	}
	return min(b.Count(ChunkCount(n.Size))*ChunkSize, n.Size)
}
