package cache

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"
)

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

// guard runs fn, turning a panic into a logged error so a bug in one
// task does not take the daemon down.
func (c *Cache) guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic", "op", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}
