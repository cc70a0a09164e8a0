package gateway

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if any goroutine outlives the tests: the
// gateway's, the cache's, or go-nfs's per-connection ones. go-nfs-client
// starts a cache janitor per mounted Target that never exits; it is the
// only one ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/willscott/go-nfs-client/nfs.(*Target).cleanupCache"),
	)
}
