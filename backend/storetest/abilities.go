package storetest

import (
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/internal/testutil"
)

// CheckAbilities checks that wrap, a wrapper of the Store interface,
// keeps exactly the optional abilities of the store it wraps: Renamer
// and UsageReporter over a POSIX store, which has both, neither over
// memstore, which has none. Callers find them by type assertion, so a
// wrapper that hid Renamer would turn every rename into copies and
// deletes, and one that claimed it would fail every rename.
func CheckAbilities(t *testing.T, wrap func(backend.Store) backend.Store) {
	t.Helper()
	p := testutil.PosixStore(t)
	for _, tc := range []struct {
		inner backend.Store
		has   bool
	}{{p, true}, {memstore.New(), false}} {
		s := wrap(tc.inner)
		_, r := s.(backend.Renamer)
		_, u := s.(backend.UsageReporter)
		if r != tc.has || u != tc.has {
			t.Errorf("wrapped %T: Renamer %v, UsageReporter %v; want both %v", tc.inner, r, u, tc.has)
		}
	}
}
