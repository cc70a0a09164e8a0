package writeback

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/filegate/filegate/cache/ns"
)

// Empty reports whether the journal holds no op.
func (q *Queue) Empty() bool { return q.journalLen() == 0 }

func (q *Queue) journalLen() int {
	n := 0
	_ = q.host.View(func(t Tx) error {
		if k, _ := t.NS().Journal.Cursor().First(); k != nil {
			n = 1
		}
		return nil
	})
	return n
}

func (q *Queue) setDrained() {
	// Looked at before taking mu: mu is never held across a view. An
	// op journalled in between wakes waiters early, and they look again.
	if q.journalLen() > 0 {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.idle)
	q.idle = make(chan struct{})
}

// Wait waits until the journal is empty, or ctx ends.
func (q *Queue) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		idle := q.idle
		q.mu.Unlock()
		if q.journalLen() == 0 {
			return nil
		}
		q.Kick()
		q.hurry()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// QueueAll journals uploads of every dirty file now, not waiting for it
// to settle. Unstable writes not yet committed are not among them.
func (q *Queue) QueueAll() { q.scan(true) }

// Flush uploads every change made so far, not waiting for files to
// settle, and returns once the backend has all of it, or ctx ends.
func (q *Queue) Flush(ctx context.Context) error {
	q.host.CommitPending()
	for {
		q.QueueAll()
		if err := q.Wait(ctx); err != nil {
			return fmt.Errorf("cache: flush: %w", err)
		}
		dirty := 0
		_ = q.host.View(func(t Tx) error {
			// The in-memory account would miss files made dirty by
			// transactions whose accounting is still to come.
			if k, _ := t.NS().Dirty.Cursor().First(); k != nil {
				dirty = 1
			}
			return nil
		})
		if dirty == 0 && q.journalLen() == 0 {
			q.waitAccounting()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cache: flush: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// FlushMatching uploads the dirty files match selects and waits for
// them and for the journal's other ops on keys keyMatch selects, or
// until ctx ends. progress, if set, is called with what remains (other
// ops count as files without bytes) as it shrinks.
func (q *Queue) FlushMatching(ctx context.Context, match func(ns.Ino) bool, keyMatch func(string) bool, progress func(files int, bytes int64)) error {
	q.host.CommitPending()
	for {
		q.queueMatching(match)
		files, bytes := q.pending(match, keyMatch)
		if progress != nil {
			progress(files, bytes)
		}
		if files == 0 {
			q.waitAccounting()
			return nil
		}
		if err := q.waitRound(ctx); err != nil {
			return fmt.Errorf("cache: flush: %w", err)
		}
	}
}

func (q *Queue) waitRound(ctx context.Context) error {
	q.Kick()
	q.hurry()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}

// pending counts what remains: dirty files match selects, and journal
// ops other than uploads on keys keyMatch selects.
func (q *Queue) pending(match func(ns.Ino) bool, keyMatch func(string) bool) (files int, bytes int64) {
	files, bytes = q.dirty.Sum(match)
	_ = q.host.View(func(t Tx) error {
		return t.NS().Journal.ForEach(func(_, v []byte) error {
			o, err := Unmarshal(v)
			if err == nil && o.Kind != Put && (keyMatch(o.Key) || keyMatch(strings.TrimSuffix(o.Key, "/"))) {
				files++
			}
			return nil
		})
	})
	return files, bytes
}
