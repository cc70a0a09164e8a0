package nfsd

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// stopS3After stops the shared S3 server once the tests ran, before the
// leak check.
type stopS3After struct{ m *testing.M }

func (s stopS3After) Run() int {
	defer s3test.StopShared()
	return s.m.Run()
}

// TestMain fails the run if any goroutine outlives the tests: the
// server's connection and request goroutines, the portmapper's, or the
// cache's. go-nfs-client starts a cache janitor per mounted Target that
// never exits; it is the only one ignored.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(stopS3After{m},
		goleak.IgnoreAnyFunction("github.com/willscott/go-nfs-client/nfs.(*Target).cleanupCache"),
	)
}
