package writeback

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/move"
	"github.com/filegate/filegate/cache/ns"
)

// runJournal applies journal ops to the backend in order. A failing op
// is retried with capped exponential backoff and holds back the ops
// after it, since they may depend on it.
func (q *Queue) runJournal(ctx context.Context) {
	backoff := q.cfg.RetryMin
	for ctx.Err() == nil {
		undone := q.db.Stats().Undone
		batch, err := q.head(q.cfg.UploadConcurrency)
		if err != nil {
			q.log.Error("read journal", "op", "journal", "err", err)
			q.backoff(ctx, q.cfg.RetryMax)
			continue
		}
		if len(batch) == 0 {
			q.setDrained()
			select {
			case <-ctx.Done():
			case <-q.kick:
			}
			continue
		}
		// The ops read may belong to a round not yet durable: never
		// apply to the backend what a crash could still take back here,
		// nor what a failed round's undo took back.
		if q.db.Barrier(); q.db.Stats().Undone != undone {
			continue
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				q.bg.Guard("journal", func() { errs[i] = q.apply(ctx, e.seq, e.op) })
			}()
		}
		wg.Wait()
		failed := false
		for i, aerr := range errs {
			if aerr == nil || ctx.Err() != nil {
				continue
			}
			if q.failed(batch[i], aerr, backoff) {
				failed = true
			}
		}
		if !failed {
			backoff = q.cfg.RetryMin
			continue
		}
		q.backoff(ctx, backoff)
		backoff = min(backoff*2, q.cfg.RetryMax)
	}
}

// failed handles an op that failed with err, and reports whether it is
// to be tried again after backoff.
func (q *Queue) failed(e entry, err error, backoff time.Duration) bool {
	o := e.op
	if errors.Is(err, errUploadRaced) {
		// Tried again like a failure, but none of the backend's.
		q.log.Debug("upload raced a write; retrying", "op", o.Kind.String(), "key", o.Key, "dur", backoff, "err", err)
		return true
	}
	q.uploadErrors.Add(1)
	if permanent(err) {
		q.log.Error("backend refused a change; dropped", "op", o.Kind.String(), "key", o.Key, "err", err)
		if err := q.finish(e.seq, o, nil); err != nil {
			q.log.Error("drop journal op", "op", o.Kind.String(), "err", err)
		}
		return false
	}
	q.mu.Lock()
	q.lastError = fmt.Errorf("%s %s: %w", o.Kind, o.Key, err)
	f := q.failing[o.Key]
	if f.Attempts == 0 {
		f = Failure{Key: o.Key, Op: o.Kind.String(), Since: time.Now()}
	}
	f.Attempts++
	f.Err = err.Error()
	q.failing[o.Key] = f
	q.mu.Unlock()
	q.log.Warn("backend change failed; retrying", "op", o.Kind.String(), "key", o.Key, "dur", backoff, "err", err)
	return true
}

// errUploadRaced marks an upload that failed while the file changed
// under it: a store may refuse a body that changed while it was sent (S3
// checks it against the hash signed before sending, and answers
// XAmzContentSHA256Mismatch), which is no failure of the backend.
var errUploadRaced = errors.New("the file changed during the upload")

// permanent reports errors no retry can fix.
func permanent(err error) bool {
	return errors.Is(err, backend.ErrInvalidKey) || errors.Is(err, backend.ErrNotEmpty)
}

// backoff waits d before a failed op is tried again, or less when a
// flush asks for it now.
func (q *Queue) backoff(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-q.urgent:
	}
}

// hurry cuts the worker's backoff short: a flush is waiting.
func (q *Queue) hurry() {
	select {
	case q.urgent <- struct{}{}:
	default:
	}
}

// entry is one journal record and its sequence key.
type entry struct {
	seq []byte
	op  Op
}

// head returns the op at the head of the journal, or the run of up to
// limit uploads there: uploads of distinct keys do not depend on each
// other, so they may run in parallel. Every other op runs alone, in
// order.
func (q *Queue) head(limit int) ([]entry, error) {
	var batch []entry
	err := q.host.View(func(t Tx) error {
		keys := map[string]bool{}
		cur := t.NS().Journal.Cursor()
		for k, v := cur.First(); k != nil && len(batch) < limit; k, v = cur.Next() {
			o, err := Unmarshal(v)
			if err != nil {
				return err
			}
			if len(batch) > 0 && (o.Kind != Put || batch[0].op.Kind != Put || keys[o.Key]) {
				break
			}
			keys[o.Key] = true
			batch = append(batch, entry{bytes.Clone(k), o})
			if o.Kind != Put {
				break
			}
		}
		return nil
	})
	return batch, err
}

// apply carries out one journal op against the backend and removes it
// from the journal.
func (q *Queue) apply(ctx context.Context, seq []byte, o Op) error {
	if o.Kind == Put {
		return q.applyPut(ctx, seq, o)
	}
	ctx, cancel := context.WithTimeout(ctx, q.cfg.OpTimeout)
	defer cancel()
	switch o.Kind {
	case Delete:
		err := q.store.Delete(ctx, o.Key)
		if err != nil {
			return err
		}
	case Rename:
		moved, err := move.Key(ctx, q.store, o.Key, o.Key2)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if moved.ETag != "" {
			// A move may give the object another ETag (a POSIX rename
			// changes its ctime): note it, or the next refresh would
			// take our own move for someone else's metadata change.
			return q.finish(seq, o, func(t Tx) error {
				n, err := t.Inode(o.Ino)
				if err != nil || n.Has(ns.FlagDirty) || moved.Size != n.RemoteSize || moved.MtimeNano() != n.RemoteMtime {
					return nil
				}
				n.ETag = moved.ETag
				return t.PutInode(n)
			})
		}
	case SetMeta:
		var attrs *backend.Attrs
		var skip bool
		err := q.host.View(func(t Tx) error {
			n, err := t.Inode(o.Ino)
			if err != nil || n.Has(ns.FlagDirty) {
				skip = true // gone, or an upload will carry it
				return nil
			}
			attrs = backendAttrs(n)
			return nil
		})
		if err != nil {
			return err
		}
		if skip {
			break
		}
		info, err := q.store.Copy(ctx, o.Key, o.Key, attrs)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		// Rewriting metadata changes the ETag: note it, or the next
		// upload would take our own change for someone else's.
		return q.finish(seq, o, func(t Tx) error {
			n, err := t.Inode(o.Ino)
			if err != nil || n.Has(ns.FlagDirty) {
				return nil
			}
			n.ETag, n.RemoteMtime = info.ETag, attrs.MTime.UnixNano()
			return t.PutInode(n)
		})
	}
	return q.finish(seq, o, nil)
}

// finish removes a done op from the journal; after runs in the same
// transaction.
func (q *Queue) finish(seq []byte, o Op, after func(t Tx) error) error {
	err := q.host.Update(func(t Tx) error {
		if after != nil {
			if err := after(t); err != nil {
				return err
			}
		}
		return t.Changes().finish(t.NS(), seq)
	})
	if err == nil {
		q.mu.Lock()
		if o.Kind == Put {
			delete(q.queued, o.Ino)
		}
		delete(q.failing, o.Key)
		q.mu.Unlock()
	}
	return err
}

func backendAttrs(n *ns.Inode) *backend.Attrs {
	return &backend.Attrs{Mode: n.Mode, UID: n.UID, GID: n.GID, MTime: time.Unix(0, n.Mtime)}
}
