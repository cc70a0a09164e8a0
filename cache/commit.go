package cache

import (
	"fmt"
	"runtime/debug"
)

// Group commit: every round costs an fdatasync of the namespace log (or
// two, of the database, in direct mode: see nsdb.go), so concurrent
// updates share one. A caller that finds no commit running leads: it
// takes every update queued so far, runs them one after another in one
// transaction and commits once. Callers arriving meanwhile queue up, and
// the first of them leads the next round when this one is over. A lone
// caller waits for nobody: there is no timer, so a serial client's
// latency is one commit, as before.
//
// An update's function runs on another goroutine than its caller: it
// must only read and write the transaction and set (not append to)
// variables of its caller (an update that fails is undone, and a
// function may yet be run again by a later version of this code).

// maxGroup bounds the updates in one transaction.
const maxGroup = 256

// commitReq is one update waiting for its round.
type commitReq struct {
	fn  func(t *txn) error
	t   *txn // the transaction view fn ran with, when it succeeded
	err error
	// panicked holds the value of a panic in fn, re-raised in its caller.
	panicked any
	// done gets true when the caller is to lead the next round, false
	// when its update is over.
	done chan bool
}

// groupCommit runs fn in a transaction shared with concurrent updates
// and returns the view fn ran with, for what is done after the commit.
func (c *Cache) groupCommit(fn func(t *txn) error) (*txn, error) {
	r := &commitReq{fn: fn, done: make(chan bool, 1)}
	c.commitMu.Lock()
	c.commitQueue = append(c.commitQueue, r)
	lead := !c.committing
	c.committing = true
	c.commitMu.Unlock()
	if !lead {
		lead = <-r.done
	}
	if lead {
		c.leadRound()
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.t, r.err
}

// leadRound commits the queued updates, then hands the lead to the
// first update queued meanwhile, if any.
func (c *Cache) leadRound() {
	c.commitMu.Lock()
	n := min(len(c.commitQueue), maxGroup)
	round := c.commitQueue[:n:n]
	c.commitQueue = c.commitQueue[n:]
	c.commitMu.Unlock()

	c.runRound(round)

	c.commitMu.Lock()
	var next *commitReq
	if len(c.commitQueue) > 0 {
		next = c.commitQueue[0]
	} else {
		c.committing = false
		c.commitQueue = nil
	}
	c.commitMu.Unlock()
	if next != nil {
		next.done <- true
	}
	for _, r := range round[1:] {
		r.done <- false
	}
	// round[0] is the leader itself: it returns without waiting.
}

// runRound runs the updates in one round (nsDB.round): an update that
// fails is undone and gets its error (it saw the state the updates
// before it in the round left, which is a state the namespace goes
// through); the rest are made durable together.
func (c *Cache) runRound(round []*commitReq) {
	if c.ns.round(round, func(t *txn) { t.pending = c.pendingOf }) {
		c.stats.commits.Add(1)
	}
}

// runFn calls r.fn, turning a panic into an error for the round and a
// panic again in r's caller.
func runFn(r *commitReq, t *txn) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			err = fmt.Errorf("cache: update panicked: %v", p)
		}
	}()
	return r.fn(t)
}
