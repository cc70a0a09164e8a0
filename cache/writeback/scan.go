package writeback

import (
	"encoding/binary"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// scan journals uploads of dirty files unchanged for UploadDelay, or of
// all dirty files when all is set.
func (q *Queue) scan(all bool) {
	now := time.Now()
	q.mu.Lock()
	skip := make(map[ns.Ino]bool, len(q.queued))
	for ino := range q.queued {
		skip[ino] = true
	}
	for ino, at := range q.lastWrite {
		if !all && now.Sub(at) < q.cfg.UploadDelay {
			skip[ino] = true
		}
	}
	q.mu.Unlock()
	var settled []ns.Ino
	err := q.host.View(func(t Tx) error {
		return t.NS().Dirty.ForEach(func(k, _ []byte) error {
			if ino := ns.Ino(binary.BigEndian.Uint64(k)); !skip[ino] {
				settled = append(settled, ino)
			}
			return nil
		})
	})
	if err != nil || len(settled) == 0 {
		return
	}
	q.queueUploads(settled)
}

// queueMatching journals uploads of the dirty files match selects.
func (q *Queue) queueMatching(match func(ns.Ino) bool) {
	q.mu.Lock()
	queued := make(map[ns.Ino]bool, len(q.queued))
	for ino := range q.queued {
		queued[ino] = true
	}
	q.mu.Unlock()
	inos := q.dirty.Select(func(ino ns.Ino) bool { return match(ino) && !queued[ino] })
	if len(inos) == 0 {
		return
	}
	q.queueUploads(inos)
}

// queueUploads journals uploads of the given dirty files.
func (q *Queue) queueUploads(settled []ns.Ino) {
	err := q.host.Update(func(t Tx) error {
		ch, nt := t.Changes(), t.NS()
		for _, ino := range settled {
			n, err := t.Inode(ino)
			if err != nil {
				if err := nt.Dirty.Delete(ns.InoKey(ino)); err != nil {
					return err
				}
				continue
			}
			if !n.Has(ns.FlagDirty) {
				continue
			}
			if !n.Mode.IsRegular() {
				if err := ch.ClearDirty(nt, n); err != nil {
					return err
				}
				if err := t.PutInode(n); err != nil {
					return err
				}
				continue
			}
			key, err := nt.Key(n)
			if err != nil {
				return err
			}
			if err := ch.Enqueue(nt, Op{Kind: Put, Ino: ino, Key: key}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		q.log.Error("queue uploads", "op", "scan", "err", err)
		return
	}
	q.mu.Lock()
	for _, ino := range settled {
		delete(q.lastWrite, ino)
	}
	q.mu.Unlock()
}
