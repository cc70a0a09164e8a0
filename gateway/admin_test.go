package gateway

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/cache"
)

type adminEnv struct {
	t        *testing.T
	cache    *cache.Cache
	storeDir string
	admin    *Admin
	level    *slog.LevelVar
	client   *http.Client
}

func newAdminEnv(t *testing.T) *adminEnv {
	t.Helper()
	e := &adminEnv{t: t, storeDir: t.TempDir(), level: new(slog.LevelVar)}
	pc := posix.DefaultConfig()
	pc.Root = e.storeDir
	ps, err := posix.New(pc)
	if err != nil {
		t.Fatal(err)
	}
	cc := cache.DefaultConfig()
	cc.Dir, cc.Store, cc.Logger = t.TempDir(), ps, testLogger()
	cc.UploadDelay = time.Hour // nothing goes up unless flushed
	if e.cache, err = cache.New(context.Background(), cc); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "admin.sock")
	e.admin, err = NewAdmin(AdminConfig{Socket: sock, Version: "test", Started: time.Now(),
		Exports: []Export{{Name: "/", Listen: "127.0.0.1:0"}}, LogLevel: e.level, Logger: testLogger(),
		Limits: func() LimitsStatus { return LimitsStatus{UploadBytesPerSec: 100, Rule: "always"} },
	}, e.cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.admin.Serve() }()
	e.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, "unix", sock)
	}}}
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		if err := e.admin.Close(); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
		e.cache.Close()
		ps.Close()
	})
	return e
}

func (e *adminEnv) do(method, path string, body any) (int, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://filegate"+path, r)
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *adminEnv) status() Status {
	e.t.Helper()
	code, b := e.do("GET", "/v1/status", nil)
	var s Status
	if code != 200 || json.Unmarshal(b, &s) != nil {
		e.t.Fatalf("status: %d %s", code, b)
	}
	return s
}

func (e *adminEnv) writeFile(dir cache.Ino, name, data string) cache.Attr {
	e.t.Helper()
	ctx := context.Background()
	a, err := e.cache.Create(ctx, dir, name, cache.NewAttr{Mode: 0o644})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.cache.WriteAt(ctx, a.Ino, []byte(data), 0); err != nil {
		e.t.Fatal(err)
	}
	if err := e.cache.Commit(ctx, a.Ino); err != nil {
		e.t.Fatal(err)
	}
	return a
}

func TestAdminStatusAndFlush(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	s := e.status()
	if s.Version != "test" || !s.Health.OK || s.LogLevel != "info" || s.Limits.UploadBytesPerSec != 100 ||
		len(s.Exports) != 1 || s.Cache.HitRate != nil || s.Cache.MaxBytes == 0 {
		t.Errorf("status of a fresh gateway: %+v", s)
	}
	d, err := e.cache.Mkdir(ctx, cache.RootIno, "docs", cache.NewAttr{Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	e.writeFile(d.Ino, "a.txt", "hello")
	e.writeFile(cache.RootIno, "b.txt", "other")
	if s := e.status(); s.Dirty.Files != 2 || s.Dirty.Bytes != 10 {
		t.Errorf("dirty = %+v, want 2 files, 10 bytes", s.Dirty)
	}

	// flush --wait of one folder streams progress and ends with done.
	code, b := e.do("POST", "/v1/flush", map[string]any{"path": "docs", "wait": true})
	if code != 200 {
		t.Fatalf("flush: %d %s", code, b)
	}
	var lines []Progress
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var p Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, p)
	}
	if len(lines) < 2 || lines[0].Files < 1 || !lines[len(lines)-1].Done {
		t.Errorf("flush lines: %+v", lines)
	}
	if got, err := os.ReadFile(filepath.Join(e.storeDir, "docs", "a.txt")); err != nil || string(got) != "hello" {
		t.Errorf("backend docs/a.txt = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(e.storeDir, "b.txt")); err == nil {
		t.Error("flush of docs uploaded b.txt too")
	}
	// flush of everything without wait answers at once.
	code, b = e.do("POST", "/v1/flush", map[string]any{"path": "/"})
	if code != 200 {
		t.Fatalf("flush all: %d %s", code, b)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.status().Dirty.Files != 0 {
		if time.Now().After(deadline) {
			t.Fatal("background flush never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdminPathVerbs(t *testing.T) {
	e := newAdminEnv(t)
	e.writeFile(cache.RootIno, "f.txt", strings.Repeat("x", 4096))
	if code, b := e.do("POST", "/v1/flush", map[string]any{"path": "/f.txt", "wait": true}); code != 200 {
		t.Fatalf("flush: %d %s", code, b)
	}
	for _, tt := range []struct {
		path string
		body any
		code int
		want string
	}{
		{"/v1/pin", map[string]any{"path": "/f.txt"}, 200, `"files": 1`},
		{"/v1/evict", map[string]any{"path": "f.txt"}, 200, `"files": 0`}, // pinned: stays
		{"/v1/unpin", map[string]any{"path": "/f.txt"}, 200, `"files": 1`},
		{"/v1/evict", map[string]any{"path": "/"}, 200, `"bytes": 4096`},
		{"/v1/refresh", map[string]any{"path": "/f.txt"}, 200, `"refreshed": true`},
		{"/v1/refresh", map[string]any{"path": ""}, 200, `"path": "/"`},
		{"/v1/pin", map[string]any{"path": "/nope/x"}, 404, "/nope/x: no such file or directory"},
		{"/v1/evict", map[string]any{"path": "/f.txt/x"}, 404, "not a directory"},
		{"/v1/pin", map[string]any{"pat": "/f.txt"}, 400, "unknown field"},
		{"/v1/nothing", nil, 404, "no endpoint"},
	} {
		code, b := e.do("POST", tt.path, tt.body)
		if code != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s %v: %d %s, want %d with %q", tt.path, tt.body, code, b, tt.code, tt.want)
		}
	}
	// The evicted file reads back from the backend.
	s := e.status()
	if s.Cache.UsedBytes != 0 {
		t.Errorf("used %d after evicting everything", s.Cache.UsedBytes)
	}
}

func TestAdminLogLevel(t *testing.T) {
	e := newAdminEnv(t)
	if code, b := e.do("GET", "/v1/loglevel", nil); code != 200 || !strings.Contains(string(b), `"info"`) {
		t.Errorf("get: %d %s", code, b)
	}
	if code, b := e.do("PUT", "/v1/loglevel", map[string]any{"level": "debug"}); code != 200 || e.level.Level() != slog.LevelDebug {
		t.Errorf("set debug: %d %s, level %v", code, b, e.level.Level())
	}
	if code, b := e.do("PUT", "/v1/loglevel", map[string]any{"level": "loud"}); code != 400 || !strings.Contains(string(b), "want debug, info, warn or error") {
		t.Errorf("set loud: %d %s", code, b)
	}
	if e.status().LogLevel != "debug" {
		t.Error("status does not show the new level")
	}
}

func TestAdminHealth(t *testing.T) {
	a := &Admin{cfg: AdminConfig{Health: DefaultHealth()}}
	now := time.Now()
	tests := []struct {
		name string
		s    Status
		want string
	}{
		{"healthy", Status{Backend: BackendStatus{Probed: true, Reachable: true}}, ""},
		{"not probed yet", Status{}, ""},
		{"unreachable", Status{Backend: BackendStatus{Probed: true, ProbeError: "timeout"}}, "backend unreachable: timeout"},
		{"dirty 81%", Status{Dirty: DirtyStatus{Bytes: 81, LimitBytes: 100}}, "dirty data at 81%"},
		{"dirty 80%", Status{Dirty: DirtyStatus{Bytes: 80, LimitBytes: 100}}, ""},
		{"no dirty limit", Status{Dirty: DirtyStatus{Bytes: 1 << 40}}, ""},
		{"old dirty", Status{Dirty: DirtyStatus{OldestSeconds: 3601}}, "waited 1h0m1s"},
		{"failing long", Status{Failing: []Failing{{Attempts: 1, Since: now.Add(-2 * time.Minute)}}}, "1 backend change(s) failing"},
		{"failing often", Status{Failing: []Failing{{Attempts: 3, Since: now}}}, "failing"},
		{"failed once", Status{Failing: []Failing{{Attempts: 1, Since: now}}}, ""},
	}
	for _, tt := range tests {
		h := a.health(tt.s, now)
		got := strings.Join(h.Problems, "; ")
		if h.OK != (tt.want == "") || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: %+v, want %q", tt.name, h, tt.want)
		}
	}
}

func TestAdminSocket(t *testing.T) {
	e := newAdminEnv(t)
	fi, err := os.Stat(e.admin.Addr())
	if err != nil || fi.Mode().Perm() != 0o600 || fi.Mode().Type() != os.ModeSocket {
		t.Fatalf("socket: %v %v", fi, err)
	}
	// A second daemon on the same socket is refused.
	if _, err := newAdmin(AdminConfig{Socket: e.admin.Addr()}, e.cache, nil); err == nil || !strings.Contains(err.Error(), "another filegate is running") {
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
	a, err := newAdmin(AdminConfig{Socket: stale}, e.cache, nil)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	go a.Serve()
	if err := a.Close(); err != nil {
		t.Error(err)
	}
}
