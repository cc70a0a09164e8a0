package admin

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAdminSocket(t *testing.T) {
	e := newAdminEnv(t)
	fi, err := os.Stat(e.admin.Addr())
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket: %v %v", fi, err)
	}
	// A second daemon on the same socket is refused.
	one := []Export{{Name: "/", Cache: e.cache}}
	if _, err := New(Config{Socket: e.admin.Addr(), Exports: one}); err == nil || !strings.Contains(err.Error(), "another filegate is running") {
		t.Errorf("second admin: %v", err)
	}
	// A stale socket file (nobody listening) is replaced.
	stale := filepath.Join(t.TempDir(), "s.sock")
	l, err := net.Listen("unix", stale)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	a, err := New(Config{Socket: stale, Exports: one})
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	go a.Serve()
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}
