package gateway

import "sync"

// gate counts the operations inside the cache so that Close can wait for
// them, and turns away those that start after it.
type gate struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers an operation; false means the gate is closed.
func (g *gate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// exit ends an operation registered by enter.
func (g *gate) exit() { g.wg.Done() }

// close turns away new operations and waits for those inside.
func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}
