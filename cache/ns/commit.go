package ns

import (
	"fmt"
	"runtime/debug"
)

// Group commit: every round costs an fdatasync of the namespace log (or
// two, of the database, in direct mode: see db.go), so concurrent
// updates share one. A caller that finds no commit running leads: it
// takes every update queued so far, runs them one after another in one
// transaction and commits once. Callers arriving meanwhile queue up, and
// the first of them leads the next round when this one is over. A lone
// caller waits for nobody: there is no timer, so a serial client's
// latency is one commit.
//
// An update's function runs on another goroutine than its caller: it
// must only read and write the transaction and set (not append to)
// variables of its caller (an update that fails is undone, and a
// function may yet be run again by a later version of this code).

// maxGroup bounds the updates in one transaction.
const maxGroup = 256

// commitReq is one update waiting for its round.
type commitReq struct {
	fn  func(t *Tx) error
	err error
	// panicked holds the value of a panic in fn, re-raised in its caller.
	panicked any
	// done gets true when the caller is to lead the next round, false
	// when its update is over.
	done chan bool
}

// Update runs fn in a transaction shared with concurrent updates and
// returns once fn's changes are durable, or fn's error (its changes
// undone), or the error that kept the round from being made durable
// (all its changes undone). A panic in fn undoes its changes and panics
// again in Update's caller.
func (d *DB) Update(fn func(t *Tx) error) error {
	r := &commitReq{fn: fn, done: make(chan bool, 1)}
	d.commitMu.Lock()
	d.commitQueue = append(d.commitQueue, r)
	lead := !d.committing
	d.committing = true
	d.commitMu.Unlock()
	if !lead {
		lead = <-r.done
	}
	if lead {
		d.leadRound()
	}
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// leadRound commits the queued updates, then hands the lead to the
// first update queued meanwhile, if any.
func (d *DB) leadRound() {
	d.commitMu.Lock()
	n := min(len(d.commitQueue), maxGroup)
	round := d.commitQueue[:n:n]
	d.commitQueue = d.commitQueue[n:]
	d.commitMu.Unlock()

	if d.round(round) {
		d.commits.Add(1)
	}

	d.commitMu.Lock()
	var next *commitReq
	if len(d.commitQueue) > 0 {
		next = d.commitQueue[0]
	} else {
		d.committing = false
		d.commitQueue = nil
	}
	d.commitMu.Unlock()
	if next != nil {
		next.done <- true
	}
	for _, r := range round[1:] {
		r.done <- false
	}
	// round[0] is the leader itself: it returns without waiting.
}

// runFn calls r.fn, turning a panic into an error for the round and a
// panic again in r's caller.
func runFn(r *commitReq, t *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			r.panicked = fmt.Sprintf("%v\n%s", p, debug.Stack())
			err = fmt.Errorf("cache: update panicked: %v", p)
		}
	}()
	return r.fn(t)
}
