package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/move"
	"github.com/filegate/filegate/cache/ns"
	"github.com/filegate/filegate/cache/writeback"
)

// runScanner journals an upload for every dirty file that has settled.
func (c *Cache) runScanner(ctx context.Context) {
	tick := max(min(c.cfg.UploadDelay/2, time.Second), 20*time.Millisecond)
	c.every(ctx, tick, nil, func() {
		c.guard("scan", func() { c.scanDirty(false) })
		c.ns.Reserve()
	})
}

// scanDirty queues uploads of dirty files unchanged for UploadDelay, or
// of all dirty files when all is set.
func (c *Cache) scanDirty(all bool) {
	now := time.Now()
	c.mu.Lock()
	skip := make(map[Ino]bool, len(c.queued))
	for ino := range c.queued {
		skip[ino] = true
	}
	for ino, at := range c.lastWrite {
		if !all && now.Sub(at) < c.cfg.UploadDelay {
			skip[ino] = true
		}
	}
	c.mu.Unlock()
	var settled []Ino
	err := c.view(func(t *txn) error {
		return t.Dirty.ForEach(func(k, _ []byte) error {
			if ino := Ino(beUint64(k)); !skip[ino] {
				settled = append(settled, ino)
			}
			return nil
		})
	})
	if err != nil || len(settled) == 0 {
		return
	}
	c.scanSome(settled)
}

// scanSome journals uploads of the given dirty files.
func (c *Cache) scanSome(settled []Ino) {
	err := c.update(func(t *txn) error {
		for _, ino := range settled {
			n, err := t.get(ino)
			if err != nil {
				if err := t.Dirty.Delete(ns.InoKey(ino)); err != nil {
					return err
				}
				continue
			}
			if !n.Has(ns.FlagDirty) {
				continue
			}
			if !n.Mode.IsRegular() {
				if err := t.clearDirty(n); err != nil {
					return err
				}
				if err := t.put(n); err != nil {
					return err
				}
				continue
			}
			key, err := t.Key(n)
			if err != nil {
				return err
			}
			if err := t.enqueue(writeback.Op{Kind: writeback.Put, Ino: ino, Key: key}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		c.log.Error("queue uploads", "op", "scan", "err", err)
		return
	}
	c.mu.Lock()
	for _, ino := range settled {
		delete(c.lastWrite, ino)
	}
	c.mu.Unlock()
}

// runJournal applies journal ops to the backend in order. A failing op
// is retried with capped exponential backoff and holds back the ops
// after it, since they may depend on it.
func (c *Cache) runJournal(ctx context.Context) {
	defer c.wg.Done()
	backoff := c.cfg.RetryMin
	for ctx.Err() == nil {
		undone := c.ns.Stats().Undone
		batch, err := c.journalHead(c.cfg.UploadConcurrency)
		if err != nil {
			c.log.Error("read journal", "op", "journal", "err", err)
			c.backoff(ctx, c.cfg.RetryMax)
			continue
		}
		if len(batch) == 0 {
			c.setDrained()
			select {
			case <-ctx.Done():
			case <-c.kick:
			}
			continue
		}
		// The ops read may belong to a round not yet durable: never
		// apply to the backend what a crash could still take back here,
		// nor what a failed round's undo took back.
		if c.ns.Barrier(); c.ns.Stats().Undone != undone {
			continue
		}
		errs := make([]error, len(batch))
		var wg sync.WaitGroup
		for i, e := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.guard("journal", func() { errs[i] = c.apply(ctx, e.seq, e.op) })
			}()
		}
		wg.Wait()
		failed := false
		for i, aerr := range errs {
			if aerr == nil || ctx.Err() != nil {
				continue
			}
			o := batch[i].op
			if errors.Is(aerr, errUploadRaced) {
				// Tried again like a failure, but none of the backend's.
				failed = true
				c.log.Debug("upload raced a write; retrying", "op", o.Kind.String(), "key", o.Key, "dur", backoff, "err", aerr)
				continue
			}
			c.stats.uploadErrors.Add(1)
			if permanent(aerr) {
				c.log.Error("backend refused a change; dropped", "op", o.Kind.String(), "key", o.Key, "err", aerr)
				if err := c.finish(batch[i].seq, o, nil); err != nil {
					c.log.Error("drop journal op", "op", o.Kind.String(), "err", err)
				}
				continue
			}
			failed = true
			c.mu.Lock()
			c.lastError = fmt.Errorf("%s %s: %w", o.Kind, o.Key, aerr)
			f := c.failing[o.Key]
			if f.Attempts == 0 {
				f = Failure{Key: o.Key, Op: o.Kind.String(), Since: time.Now()}
			}
			f.Attempts++
			f.Err = aerr.Error()
			c.failing[o.Key] = f
			c.mu.Unlock()
			c.log.Warn("backend change failed; retrying", "op", o.Kind.String(), "key", o.Key, "dur", backoff, "err", aerr)
		}
		if !failed {
			backoff = c.cfg.RetryMin
			continue
		}
		c.backoff(ctx, backoff)
		backoff = min(backoff*2, c.cfg.RetryMax)
	}
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
func (c *Cache) backoff(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-c.urgent:
	}
}

// hurry cuts the journal's backoff short: a flush is waiting.
func (c *Cache) hurry() {
	select {
	case c.urgent <- struct{}{}:
	default:
	}
}

// every is the loop of a background goroutine counted in c.wg: it runs
// fn each period, and at once on a send to kick (nil: never), until ctx
// ends.
func (c *Cache) every(ctx context.Context, period time.Duration, kick <-chan struct{}, fn func()) {
	defer c.wg.Done()
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-kick:
		}
		fn()
	}
}

// guard runs fn, turning a panic into a logged error so a bug in one op
// does not take the daemon down.
func (c *Cache) guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic", "op", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// journalEntry is one journal record and its sequence key.
type journalEntry struct {
	seq []byte
	op  writeback.Op
}

// journalHead returns the op at the head of the journal, or the run of
// up to limit uploads there: uploads of distinct keys do not depend on
// each other, so they may run in parallel. Every other op runs alone,
// in order.
func (c *Cache) journalHead(limit int) ([]journalEntry, error) {
	var batch []journalEntry
	err := c.view(func(t *txn) error {
		keys := map[string]bool{}
		cur := t.Journal.Cursor()
		for k, v := cur.First(); k != nil && len(batch) < limit; k, v = cur.Next() {
			o, err := writeback.Unmarshal(v)
			if err != nil {
				return err
			}
			if len(batch) > 0 && (o.Kind != writeback.Put || batch[0].op.Kind != writeback.Put || keys[o.Key]) {
				break
			}
			keys[o.Key] = true
			batch = append(batch, journalEntry{bytes.Clone(k), o})
			if o.Kind != writeback.Put {
				break
			}
		}
		return nil
	})
	return batch, err
}

func (c *Cache) journalLen() int {
	n := 0
	_ = c.view(func(t *txn) error {
		if k, _ := t.Journal.Cursor().First(); k != nil {
			n = 1
		}
		return nil
	})
	return n
}

func (c *Cache) setDrained() {
	// Looked at before taking mu: a view while holding mu would invert
	// the lock order (views take mu inside: presentFor). An op journalled
	// in between wakes waiters early, and they look again.
	if c.journalLen() > 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	close(c.idle)
	c.idle = make(chan struct{})
}

// waitJournal waits until the journal is empty.
func (c *Cache) waitJournal(ctx context.Context) error {
	for {
		c.mu.Lock()
		idle := c.idle
		c.mu.Unlock()
		if c.journalLen() == 0 {
			return nil
		}
		c.wake()
		c.hurry()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Flush uploads every change made so far, not waiting for files to
// settle, and returns once the backend has all of it, or ctx ends.
func (c *Cache) Flush(ctx context.Context) error {
	c.storeAllPending()
	c.syncPending()
	for {
		c.scanDirty(true)
		if err := c.waitJournal(ctx); err != nil {
			return fmt.Errorf("cache: flush: %w", err)
		}
		dirty := 0
		_ = c.view(func(t *txn) error {
			// Stats would count the committed pages only.
			if k, _ := t.Dirty.Cursor().First(); k != nil {
				dirty = 1
			}
			return nil
		})
		if dirty == 0 && c.journalLen() == 0 {
			c.waitAccounting()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache: flush: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// apply carries out one journal op against the backend and removes it
// from the journal.
func (c *Cache) apply(ctx context.Context, seq []byte, o writeback.Op) error {
	if o.Kind == writeback.Put {
		return c.applyPut(ctx, seq, o)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout)
	defer cancel()
	switch o.Kind {
	case writeback.Delete:
		err := c.store.Delete(ctx, o.Key)
		if err != nil {
			return err
		}
	case writeback.Rename:
		moved, err := move.Key(ctx, c.store, o.Key, o.Key2)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if moved.ETag != "" {
			// A move may give the object another ETag (a POSIX rename
			// changes its ctime): note it, or the next refresh would
			// take our own move for someone else's metadata change.
			return c.finish(seq, o, func(t *txn) error {
				n, err := t.get(o.Ino)
				if err != nil || n.Has(ns.FlagDirty) || moved.Size != n.RemoteSize || remoteMtime(moved) != n.RemoteMtime {
					return nil
				}
				n.ETag = moved.ETag
				return t.put(n)
			})
		}
	case writeback.SetMeta:
		var attrs *backend.Attrs
		var skip bool
		err := c.view(func(t *txn) error {
			n, err := t.get(o.Ino)
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
		info, err := c.store.Copy(ctx, o.Key, o.Key, attrs)
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return err
		}
		// Rewriting metadata changes the ETag: note it, or the next
		// upload would take our own change for someone else's.
		return c.finish(seq, o, func(t *txn) error {
			n, err := t.get(o.Ino)
			if err != nil || n.Has(ns.FlagDirty) {
				return nil
			}
			n.ETag, n.RemoteMtime = info.ETag, attrs.MTime.UnixNano()
			return t.put(n)
		})
	}
	return c.finish(seq, o, nil)
}

// finish removes a done op from the journal; after runs in the same
// transaction.
func (c *Cache) finish(seq []byte, o writeback.Op, after func(t *txn) error) error {
	err := c.update(func(t *txn) error {
		if after != nil {
			if err := after(t); err != nil {
				return err
			}
		}
		return t.wb.Finish(t.Tx, seq)
	})
	if err == nil {
		c.mu.Lock()
		if o.Kind == writeback.Put {
			delete(c.queued, o.Ino)
		}
		delete(c.failing, o.Key)
		c.mu.Unlock()
	}
	return err
}

func backendAttrs(n *ns.Inode) *backend.Attrs {
	return &backend.Attrs{Mode: n.Mode, UID: n.UID, GID: n.GID, MTime: time.Unix(0, n.Mtime)}
}

func (c *Cache) applyPut(ctx context.Context, seq []byte, o writeback.Op) error {
	var n *ns.Inode
	var pend pendingAttr
	var unstable bool
	err := c.view(func(t *txn) error {
		var err error
		n, err = t.get(o.Ino)
		if errors.Is(err, syscall.ESTALE) {
			n, err = nil, nil
		}
		pend, unstable = t.pending(o.Ino)
		return err
	})
	if err != nil {
		return err
	}
	if n == nil {
		return c.finish(seq, o, nil) // removed before it was uploaded
	}
	// Even a slow link moves 256 KiB/s; slower than that, the upload is
	// taken for hung and tried again.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.OpTimeout+time.Duration(n.Size/(256<<10))*time.Second)
	defer cancel()
	attrs := backendAttrs(n)
	var info backend.ObjectInfo
	switch {
	case n.Mode.IsDir():
		info, err = c.store.Put(ctx, o.Key, strings.NewReader(""), 0, attrs)
	case n.Mode&fs.ModeSymlink != 0:
		info, err = c.store.Put(ctx, o.Key, strings.NewReader(n.Target), int64(len(n.Target)), attrs)
	case n.Mode.IsRegular() && n.Has(ns.FlagLocal):
		var conflict string
		if conflict, err = c.keepTheirs(ctx, o.Key, n, parseIntent(o.Key2)); err != nil {
			return err
		}
		// Note what is about to be uploaded in the op itself: if the
		// upload lands but a crash comes before it is recorded, the
		// replay knows the object for ours, not someone else's.
		o.Key2 = intent(n)
		if err := c.update(func(t *txn) error {
			if t.Journal.Get(seq) == nil {
				return nil
			}
			return t.Journal.Put(seq, o.Marshal())
		}); err != nil {
			return err
		}
		if conflict != "" {
			if err := c.update(func(t *txn) error { return t.markStale(path.Dir(o.Key)) }); err != nil {
				return err
			}
		}
		// A remove does not cancel the upload, though it holds the
		// removed data file open (its space is free when it ends): a
		// store may still apply an aborted PUT after the DELETE that
		// follows (versitygw stored a cut body so), and the removed
		// file would be back.
		info, err = c.putFile(ctx, o.Key, n, attrs)
		if err != nil && ctx.Err() == nil && c.changedSince(o.Ino, n, pend, unstable) {
			return fmt.Errorf("%w: %w", errUploadRaced, err)
		}
	default:
		if n.Mode.IsRegular() && n.Has(ns.FlagDirty) {
			// Never so: a write makes its file local first, and a
			// refresh leaves a file being written alone.
			c.log.Error("a dirty file's content is not in the cache; not uploaded", "op", "upload", "key", o.Key)
		}
		return c.finish(seq, o, nil)
	}
	if err != nil {
		return err
	}
	c.stats.uploads.Add(1)
	c.stats.uploadBytes.Add(info.Size)
	return c.finish(seq, o, func(t *txn) error {
		cur, err := t.get(o.Ino)
		if err != nil {
			return nil
		}
		cur.Flags |= ns.FlagRemote
		cur.ETag = info.ETag
		if n.Mode.IsRegular() {
			cur.RemoteSize, cur.RemoteMtime = info.Size, n.Mtime
		}
		// Unstable writes not yet committed keep it dirty: they may
		// have landed after the upload read the file.
		_, unstable := t.pending(o.Ino)
		if !unstable && cur.Version == n.Version && cur.Mtime == n.Mtime && cur.Mode == n.Mode && cur.UID == n.UID && cur.GID == n.GID {
			if err := t.clearDirty(cur); err != nil {
				return err
			}
		} else if cur.Has(ns.FlagDirty) {
			// Changed during the upload: the scanner queues it again.
		} else if err := t.enqueue(writeback.Op{Kind: writeback.SetMeta, Ino: cur.Ino, Key: o.Key}); err != nil {
			return err
		}
		return t.put(cur)
	})
}

// changedSince reports whether ino's content changed since it was n,
// with the unstable writes pend (if unstable) pending.
func (c *Cache) changedSince(ino Ino, n *ns.Inode, pend pendingAttr, unstable bool) bool {
	changed := false
	_ = c.view(func(t *txn) error {
		cur, err := t.get(ino)
		if err != nil {
			return err // removed: the next attempt finds nothing to do
		}
		now, nowUnstable := t.pending(ino)
		changed = cur.Version != n.Version || cur.Size != n.Size ||
			nowUnstable != unstable || now.writes != pend.writes
		return nil
	})
	return changed
}

// putFile uploads the local data of n. A write racing the upload bumps
// n.version, which keeps the inode dirty for another upload.
func (c *Cache) putFile(ctx context.Context, key string, n *ns.Inode, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	f, err := c.files.fs.OpenFile(c.files.path(n.Ino), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		// Created, never written: an empty file.
		return c.store.Put(ctx, key, strings.NewReader(""), 0, attrs)
	}
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	if st.Size() < n.Size {
		// The size was recorded but the data never reached the file
		// (a crash between the two): the missing tail reads as zeros.
		if err := f.Truncate(n.Size); err != nil {
			return backend.ObjectInfo{}, err
		}
	}
	return c.store.Put(ctx, key, io.NewSectionReader(f, 0, n.Size), n.Size, attrs)
}

// uploadIntent is the size and mtime of a file being uploaded, kept in
// its writeback.Put record (key2, unused otherwise).
type uploadIntent struct {
	ok          bool
	size, mtime int64
}

func intent(n *ns.Inode) string { return fmt.Sprintf("%d:%d", n.Size, n.Mtime) }

func parseIntent(s string) uploadIntent {
	var u uploadIntent
	if _, err := fmt.Sscanf(s, "%d:%d", &u.size, &u.mtime); err == nil {
		u.ok = true
	}
	return u
}
