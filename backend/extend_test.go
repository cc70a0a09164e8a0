package backend_test

import (
	"context"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
)

type renameOnly struct{}

func (renameOnly) Rename(context.Context, string, string) error { return nil }

type usageOnly struct{}

func (usageOnly) Usage(context.Context) (backend.Usage, error) { return backend.Usage{}, nil }

func TestExtend(t *testing.T) {
	base := memstore.New()
	for _, tc := range []struct {
		name             string
		rename           backend.Renamer
		usage            backend.UsageReporter
		isRename, isUsed bool
	}{
		{"neither", nil, nil, false, false},
		{"rename", renameOnly{}, nil, true, false},
		{"usage", nil, usageOnly{}, false, true},
		{"both", renameOnly{}, usageOnly{}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := backend.Extend(base, tc.rename, tc.usage)
			_, r := s.(backend.Renamer)
			_, u := s.(backend.UsageReporter)
			if r != tc.isRename || u != tc.isUsed {
				t.Fatalf("Renamer %v, UsageReporter %v; want %v, %v", r, u, tc.isRename, tc.isUsed)
			}
			if backend.Base(s) != backend.Store(base) {
				t.Fatal("Base did not recover the base store")
			}
		})
	}
}
