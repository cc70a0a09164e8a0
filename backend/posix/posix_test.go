package posix_test

import (
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/storetest"
)

func newStore(t *testing.T) *posix.Store {
	t.Helper()
	cfg := posix.DefaultConfig()
	cfg.Root = t.TempDir()
	s, err := posix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) backend.Store { return newStore(t) }, storetest.Options{
		RealDirectories: true,
		// ext4, xfs and tmpfs, where t.TempDir lives, keep nanoseconds.
		MTimeGranularity: time.Nanosecond,
	})
}
