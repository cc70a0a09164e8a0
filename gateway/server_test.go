package gateway

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	nfs "github.com/willscott/go-nfs"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"export path", func(c *Config) { c.ExportName = "/srv/share" }, ""},
		{"ipv6", func(c *Config) { c.Listen = "[::1]:2049" }, ""},
		{"no port", func(c *Config) { c.Listen = "localhost" }, "Listen"},
		{"empty listen", func(c *Config) { c.Listen = "" }, "Listen"},
		{"relative export", func(c *Config) { c.ExportName = "share" }, "ExportName"},
		{"empty export", func(c *Config) { c.ExportName = "" }, "ExportName"},
		{"unclean export", func(c *Config) { c.ExportName = "/a/../b/" }, "ExportName"},
		{"zero timeout", func(c *Config) { c.OpTimeout = 0 }, "OpTimeout"},
		{"no logger", func(c *Config) { c.Logger = nil }, "Logger"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("Validate() = %v, want error about %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New(DefaultConfig(), nil); err == nil {
		t.Fatal("New with a nil cache succeeded")
	}
}

// TestServeUntilCancel: cancelling Serve's ctx stops the server, drops
// its clients and makes Serve return nil.
func TestServeUntilCancel(t *testing.T) {
	f, _ := newTestFS(t)
	cfg := DefaultConfig()
	cfg.Listen, cfg.Logger = "127.0.0.1:0", testLogger()
	srv, err := newServer(cfg, f.c)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for len(srv.Clients()) == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client connection still open: %v", err)
	}
	if n := len(srv.Clients()); n != 0 {
		t.Fatalf("%d clients after stop", n)
	}
	must(t, srv.Close())
	l2, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(context.Background(), l2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close = %v", err)
	}
}

func TestMountPolicy(t *testing.T) {
	f, _ := newTestFS(t)
	h := newHandler(f, "/srv/share", 7, testLogger())
	tests := []struct {
		dirpath string
		flavor  uint32
		want    nfs.MountStatus
	}{
		{"/srv/share", uint32(nfs.AuthFlavorUnix), nfs.MountStatusOk},
		{"/srv/share/", uint32(nfs.AuthFlavorNull), nfs.MountStatusOk},
		{"/", uint32(nfs.AuthFlavorUnix), nfs.MountStatusErrNoEnt},
		{"", uint32(nfs.AuthFlavorUnix), nfs.MountStatusErrNoEnt},
		{"/srv", uint32(nfs.AuthFlavorUnix), nfs.MountStatusErrNoEnt},
		{"/srv/share", 6 /* RPCSEC_GSS */, nfs.MountStatusErrAcces},
	}
	for _, tt := range tests {
		req := nfs.MountRequest{Dirpath: []byte(tt.dirpath)}
		req.Header.Cred.Flavor = tt.flavor
		st, fsys, flavors := h.Mount(context.Background(), nil, req)
		if st != tt.want {
			t.Errorf("Mount(%q, flavor %d) = %d, want %d", tt.dirpath, tt.flavor, st, tt.want)
		}
		if st == nfs.MountStatusOk && (fsys == nil || len(flavors) != 2 || flavors[0] != nfs.AuthFlavorUnix) {
			t.Errorf("Mount(%q): fs %v flavors %v", tt.dirpath, fsys, flavors)
		}
	}
	// The root handle carries the export id.
	hd, err := parseHandle(h.ToHandle(nil, nil))
	if err != nil || hd.ExportID != 7 || hd.Ino != 1 {
		t.Fatalf("root handle %+v, %v", hd, err)
	}
}
