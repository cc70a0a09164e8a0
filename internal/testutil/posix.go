package testutil

import (
	"testing"

	"github.com/filegate/filegate/backend/posix"
)

// PosixStore opens a POSIX store with the default permissions on a
// temporary folder of t's, and closes it at t's cleanup.
func PosixStore(t testing.TB) *posix.Store {
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
