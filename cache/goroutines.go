package cache

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// workers counts the cache's background goroutines, so Close can wait
// for them, and keeps a panic in one from taking the daemon down.
type workers struct {
	wg  sync.WaitGroup
	log *slog.Logger
}

// start runs fn in a goroutine counted in wg.
func (w *workers) start(fn func()) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		fn()
	}()
}

// every starts a goroutine counted in wg that runs fn each period, and
// at once on a send to kick (nil: never), until ctx ends; then last,
// when set.
func (w *workers) every(ctx context.Context, period time.Duration, kick <-chan struct{}, fn, last func()) {
	w.start(func() {
		t := time.NewTicker(period)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if last != nil {
					last()
				}
				return
			case <-t.C:
			case <-kick:
			}
			fn()
		}
	})
}

// guard runs fn, turning a panic into a logged error so a bug in one
// task does not take the daemon down.
func (w *workers) guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic", "op", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}
