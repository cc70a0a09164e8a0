package nfsd

import (
	"net"
	"testing"

	"go.uber.org/goleak"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// stopS3After stops the shared S3 server once the tests ran, before the
// leak check.
type stopS3After struct{ m *testing.M }

func (s stopS3After) Run() int {
	defer s3test.StopShared()
	warmPoller()
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

// warmPoller makes the runtime open its network poller descriptors (epoll
// and its wake-up eventfd, opened on first use and never closed) before any
// test counts open descriptors, so the first test does not see them as a
// leak.
func warmPoller() {
	if l, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		l.Close()
	}
}
