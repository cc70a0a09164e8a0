package testutil

import "time"

// Poll calls cond until it returns true or d has passed, and reports
// whether it did. It is how a test waits for something that happens in
// the background: d only turns a hang into a failure, so make it
// generous. The pause between calls starts at a millisecond and grows
// to 20 ms, so a quick condition is seen at once and a slow one (a
// status request, a dial) is not asked in a busy loop.
func Poll(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 20*time.Millisecond)
	}
}
