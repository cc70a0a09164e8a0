package testutil

import (
	"os"
	"testing"
	"time"
)

// OpenFDs counts the process's open file descriptors, or returns -1
// where /proc/self/fd is missing (not Linux).
func OpenFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// CheckFDs fails t if more descriptors are open than before, a count
// from OpenFDs, and names what they point to. A server's connection
// goroutines may close theirs a moment after the server has returned,
// so it polls for a while before it fails.
func CheckFDs(t testing.TB, before int) {
	t.Helper()
	if before < 0 {
		return
	}
	var now int
	if Poll(2*time.Second, func() bool { now = OpenFDs(); return now <= before }) {
		return
	}
	ents, _ := os.ReadDir("/proc/self/fd")
	var names []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		names = append(names, l)
	}
	t.Errorf("leaked file descriptors: %d open, %d before: %q", now, before, names)
}
