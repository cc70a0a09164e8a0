package posix_test

import (
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/storetest"
	"github.com/filegate/filegate/internal/testutil"
)

func TestStore(t *testing.T) {
	storetest.RunWith(t, func(t *testing.T) backend.Store { return testutil.PosixStore(t) }, storetest.Options{
		RealDirectories: true,
		// ext4, xfs and tmpfs, where t.TempDir lives, keep nanoseconds.
		MTimeGranularity: time.Nanosecond,
	})
}
