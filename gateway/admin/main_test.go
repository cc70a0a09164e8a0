package admin

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine of the admin server outlives
// the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
