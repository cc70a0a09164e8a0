package background

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Group counts goroutines started with Go and Every. Its zero value
// logs panics nowhere; set Log.
type Group struct {
	wg  sync.WaitGroup
	Log *slog.Logger
}

// Go runs fn in a goroutine counted in g.
func (g *Group) Go(fn func()) {
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		fn()
	}()
}

// Every starts a goroutine counted in g that runs fn each period, and
// at once on a send to kick (nil: never), until ctx ends; then last,
// when set.
func (g *Group) Every(ctx context.Context, period time.Duration, kick <-chan struct{}, fn, last func()) {
	g.Go(func() {
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

// Guard runs fn, turning a panic into an error logged with op what.
func (g *Group) Guard(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil && g.Log != nil {
			g.Log.Error("panic", "op", what, "err", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// Wait waits for every goroutine of g to return.
func (g *Group) Wait() { g.wg.Wait() }
