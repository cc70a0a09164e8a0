package cache

import (
	"math/bits"

	"github.com/filegate/filegate/cache/ns"
)

// chunkSize is the unit in which file contents are fetched and tracked:
// a file not wholly in the cache has a bitmap of the chunks it holds.
const chunkSize = 1 << 20

// chunkRange returns the chunks covering [off, end).
func chunkRange(off, end int64) (first, last int64) {
	return off / chunkSize, (end - 1) / chunkSize
}

func chunkCount(size int64) int64 { return (size + chunkSize - 1) / chunkSize }

// bitmap is a set of chunk indexes.
type bitmap []byte

func (b bitmap) has(i int64) bool {
	return i/8 < int64(len(b)) && b[i/8]&(1<<(i%8)) != 0
}

func (b *bitmap) set(i int64) {
	for int64(len(*b)) <= i/8 {
		*b = append(*b, 0)
	}
	(*b)[i/8] |= 1 << (i % 8)
}

// count returns how many of the first n chunks are present.
func (b bitmap) count(n int64) int64 {
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

// full reports whether all n chunks are present.
func (b bitmap) full(n int64) bool { return b.count(n) == n }

// chunks returns the chunk bitmap of ino (nil when none are recorded).
func (t *txn) chunks(ino Ino) bitmap {
	v := t.Chunks.Get(ns.InoKey(ino))
	if v == nil {
		return nil
	}
	return append(bitmap(nil), v...)
}

func (t *txn) putChunks(ino Ino, b bitmap) error {
	bk := t.Chunks
	if len(b) == 0 {
		return bk.Delete(ns.InoKey(ino))
	}
	return bk.Put(ns.InoKey(ino), b)
}

// localBytes is what ino's data occupies in the cache, for accounting.
func localBytes(n *ns.Inode, b bitmap) int64 {
	if n.Has(ns.FlagLocal) {
		return n.Size
	}
	return min(b.count(chunkCount(n.Size))*chunkSize, n.Size)
}
