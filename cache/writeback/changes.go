package writeback

import (
	"encoding/binary"

	"github.com/filegate/filegate/cache/ns"
)

// keyNextSeq numbers the journal's records, in the namespace's Meta.
var keyNextSeq = []byte("next-seq")

// Changes collects what one namespace transaction did to the write-back:
// the ops it journalled and the files it made dirty or clean. The
// records go into the transaction's buckets at once; the in-memory
// accounting follows from Queue.Committed once the transaction is
// durable, so a transaction that fails leaves no trace in it.
type Changes struct {
	// enqueued counts the ops journalled, less those finished.
	enqueued int64
	// queued is set when an op was journalled, so the worker wakes.
	queued bool
	// puts lists the inodes whose Put was journalled.
	puts []ns.Ino
	// dirtied maps inodes whose dirty state changed to their size, or
	// to -1 when they turned clean.
	dirtied map[ns.Ino]int64
}

// Enqueue appends o to the journal.
func (ch *Changes) Enqueue(t *ns.Tx, o Op) error {
	seq, err := t.Bump(keyNextSeq)
	if err != nil {
		return err
	}
	ch.queued = true
	ch.enqueued++
	if o.Kind == Put {
		ch.puts = append(ch.puts, o.Ino)
	}
	return t.Journal.Put(binary.BigEndian.AppendUint64(nil, seq), o.Marshal())
}

// finish removes the op at seq from the journal, if still there.
func (ch *Changes) finish(t *ns.Tx, seq []byte) error {
	if t.Journal.Get(seq) == nil {
		return nil
	}
	ch.enqueued--
	return t.Journal.Delete(seq)
}

// SetDirty marks n dirty; call it after n.Size has its new value. The
// caller stores n.
func (ch *Changes) SetDirty(t *ns.Tx, n *ns.Inode) error {
	ch.NoteDirty(n.Ino, n.Size)
	if n.Has(ns.FlagDirty) {
		return nil
	}
	n.Flags |= ns.FlagDirty
	return t.Dirty.Put(ns.InoKey(n.Ino), nil)
}

// ClearDirty marks n clean. The caller stores n.
func (ch *Changes) ClearDirty(t *ns.Tx, n *ns.Inode) error {
	ch.NoteDirty(n.Ino, -1)
	n.Flags &^= ns.FlagDirty
	return t.Dirty.Delete(ns.InoKey(n.Ino))
}

// NoteDirty records that ino is dirty with the given size, or clean
// when size is -1, for the accounting after commit.
func (ch *Changes) NoteDirty(ino ns.Ino, size int64) {
	if ch.dirtied == nil {
		ch.dirtied = map[ns.Ino]int64{}
	}
	ch.dirtied[ino] = size
}

// Cleaned calls fn for each inode the transaction made clean.
func (ch *Changes) Cleaned(fn func(ns.Ino)) {
	for ino, size := range ch.dirtied {
		if size < 0 {
			fn(ino)
		}
	}
}
