package main

import (
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/metered"
)

// TestOpenBackendPosix: the default backend is a folder made under the
// state folder, used through the stack the daemon observes.
func TestOpenBackendPosix(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Server.StateDir = t.TempDir()
	st, closeStore, err := openBackend(t.Context(), cfg, slog.New(slog.DiscardHandler), limit.NewLimiter(nil))
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if fi, err := os.Stat(cfg.BackendPath()); err != nil || !fi.IsDir() {
		t.Fatalf("backend folder: %v", err)
	}
	if _, ok := st.Store.(backend.Renamer); !ok {
		t.Error("the POSIX stack lost its Renamer")
	}
	if st.Limits == nil || st.Metered == nil {
		t.Fatalf("stack without its limit (%v) or metered (%v) layer", st.Limits, st.Metered)
	}
	if _, err := st.Store.Put(t.Context(), "f", strings.NewReader("abc"), 3, nil); err != nil {
		t.Fatal(err)
	}
	if got := st.Metered.Stats(); got.Ops[metered.OpPut].Calls != 1 || got.BytesUp != 3 {
		t.Errorf("metered: %d puts, %d bytes up; want 1 and 3", got.Ops[metered.OpPut].Calls, got.BytesUp)
	}
}
