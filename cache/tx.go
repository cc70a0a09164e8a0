package cache

import (
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/writeback"
)

// txn is the cache's view of a namespace transaction: an ns.Tx whose
// get overlays the unstable writes not yet committed and whose put and
// delete drop inline records with the content they stand for, plus what
// the write-back must hear of after the commit. Use get, put and delete,
// not the ns.Tx methods they wrap.
type txn struct {
	*ns.Tx
	// wb collects the transaction's journal records and dirty changes
	// for the write-back's accounting after commit.
	wb writeback.Changes
	// pending, when set, returns the uncommitted unstable writes of an
	// inode, which get overlays on the stored record.
	pending func(Ino) (pendingAttr, bool)
}

// get returns the inode, or ESTALE when it no longer exists.
func (t *txn) get(ino Ino) (*ns.Inode, error) {
	n, err := t.Tx.Get(ino)
	if err != nil {
		return nil, err
	}
	if t.pending != nil {
		if p, ok := t.pending(ino); ok {
			p.apply(n)
		}
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
	return t.Tx.Put(n)
}

// delete removes the inode ino and its inline record.
func (t *txn) delete(ino Ino) error {
	if err := t.dropInline(ino); err != nil {
		return err
	}
	return t.Tx.Delete(ino)
}

// enqueue appends o to the journal.
func (t *txn) enqueue(o writeback.Op) error { return t.wb.Enqueue(t.Tx, o) }

// setDirty marks n dirty; call it after n.Size has its new value.
func (t *txn) setDirty(n *ns.Inode) error { return t.wb.SetDirty(t.Tx, n) }

func (t *txn) clearDirty(n *ns.Inode) error { return t.wb.ClearDirty(t.Tx, n) }
