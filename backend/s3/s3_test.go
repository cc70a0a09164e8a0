package s3_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/backend/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	s3test.StopShared()
	os.Exit(code)
}

// storeOptions are what the S3 store offers beyond the common contract:
// mtimes are kept to the nanosecond in metadata.
var storeOptions = storetest.Options{MTimeGranularity: time.Nanosecond}

func TestStoreVersitygw(t *testing.T) {
	srv := s3test.Shared(t)
	storetest.RunWith(t, func(t *testing.T) backend.Store {
		return s3test.Open(t, srv.NewBucket(t))
	}, storeOptions)
}

// TestStoreAWS runs the suite on a real bucket, when
// FILEGATE_TEST_S3_BUCKET names one (credentials from the default chain;
// FILEGATE_TEST_S3_REGION and FILEGATE_TEST_S3_PREFIX optional). Each
// test works under its own prefix below that and deletes what it made.
func TestStoreAWS(t *testing.T) {
	bucket := os.Getenv("FILEGATE_TEST_S3_BUCKET")
	if bucket == "" {
		t.Skip("FILEGATE_TEST_S3_BUCKET not set")
	}
	base := os.Getenv("FILEGATE_TEST_S3_PREFIX")
	if base == "" {
		base = "filegate-test/"
	}
	run := time.Now().UTC().Format("20060102T150405.000000000") + "/"
	n := 0
	storetest.RunWith(t, func(t *testing.T) backend.Store {
		n++
		cfg := s3.DefaultConfig()
		cfg.Bucket = bucket
		cfg.Region = os.Getenv("FILEGATE_TEST_S3_REGION")
		cfg.Prefix = base + run + t.Name() + "/"
		s := s3test.Open(t, cfg)
		t.Cleanup(func() { deleteAll(t, s) })
		return s
	}, storeOptions)
}

// deleteAll removes every key of s.
func deleteAll(t testing.TB, s backend.Store) {
	ctx := context.Background()
	var keys []string
	if err := s.List(ctx, backend.ListOptions{}, func(oi backend.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	for _, k := range keys {
		if err := s.Delete(ctx, k); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}
