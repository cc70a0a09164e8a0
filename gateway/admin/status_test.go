package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

func TestAdminStatusAndFlush(t *testing.T) {
	e := newAdminEnv(t)
	ctx := context.Background()
	s := e.status()
	if s.Version != "test" || !s.Health.OK || s.LogLevel != "info" || s.Limits.UploadBytesPerSec != 100 ||
		len(s.Exports) != 1 || s.Cache.HitRate != nil || s.Cache.MaxBytes == 0 {
		t.Errorf("status of a fresh gateway: %+v", s)
	}
	d, _, err := e.cache.Mkdir(ctx, cache.RootIno, "docs", cache.NewAttr{Mode: 0o755})
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
	if got, err := os.ReadFile(filepath.Join(e.xs[0].storeDir, "docs", "a.txt")); err != nil || string(got) != "hello" {
		t.Errorf("backend docs/a.txt = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(e.xs[0].storeDir, "b.txt")); err == nil {
		t.Error("flush of docs uploaded b.txt too")
	}
	// flush of everything without wait answers at once.
	code, b = e.do("POST", "/v1/flush", map[string]any{"path": "/"})
	if code != 200 {
		t.Fatalf("flush all: %d %s", code, b)
	}
	if !testutil.Poll(10*time.Second, func() bool { return e.status().Dirty.Files == 0 }) {
		t.Fatal("background flush never finished")
	}
}

func TestAdminHealth(t *testing.T) {
	a := &Server{cfg: Config{Health: DefaultHealth()}}
	now := time.Now()
	tests := []struct {
		name string
		s    ExportStatus
		want string
	}{
		{"healthy", ExportStatus{Backend: BackendStatus{Probed: true, Reachable: true}}, ""},
		{"not probed yet", ExportStatus{}, ""},
		{"unreachable", ExportStatus{Backend: BackendStatus{Probed: true, ProbeError: "timeout"}}, "backend unreachable: timeout"},
		{"dirty 81%", ExportStatus{Dirty: DirtyStatus{Bytes: 81, LimitBytes: 100}}, "dirty data at 81%"},
		{"dirty 80%", ExportStatus{Dirty: DirtyStatus{Bytes: 80, LimitBytes: 100}}, ""},
		{"no dirty limit", ExportStatus{Dirty: DirtyStatus{Bytes: 1 << 40}}, ""},
		{"old dirty", ExportStatus{Dirty: DirtyStatus{OldestSeconds: 3601}}, "waited 1h0m1s"},
		{"failing long", ExportStatus{Failing: []Failing{{Attempts: 1, Since: now.Add(-2 * time.Minute)}}}, "1 backend change(s) failing"},
		{"failing often", ExportStatus{Failing: []Failing{{Attempts: 3, Since: now}}}, "failing"},
		{"failed once", ExportStatus{Failing: []Failing{{Attempts: 1, Since: now}}}, ""},
		{"namespace log", ExportStatus{NamespaceProblem: "namespace log not in use (x)"}, "namespace log not in use"},
	}
	for _, tt := range tests {
		h := a.health(tt.s, now)
		got := strings.Join(h.Problems, "; ")
		if h.OK != (tt.want == "") || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("%s: %+v, want %q", tt.name, h, tt.want)
		}
	}
}

// TestAdminExports: with two exports, status shows each and their sum,
// the path verbs act on the export the path names, and a flush or evict
// of everything covers both.
func TestAdminExports(t *testing.T) {
	e := newAdminEnv(t, "/office", "/projects")
	office, projects := e.xs[0], e.xs[1]
	ctx := context.Background()
	d, _, err := office.cache.Mkdir(ctx, cache.RootIno, "docs", cache.NewAttr{Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	writeCacheFile(t, office.cache, d.Ino, "a.txt", "hello")
	writeCacheFile(t, projects.cache, cache.RootIno, "p.txt", "project")
	writeCacheFile(t, projects.cache, cache.RootIno, "q.txt", "queued")

	s := e.status()
	if len(s.Exports) != 2 || s.Exports[0].Name != "/office" || s.Exports[1].Name != "/projects" ||
		s.Exports[0].Listen != "127.0.0.1:0" || s.Exports[1].Backend.Name != projects.storeDir {
		t.Fatalf("exports: %+v", s.Exports)
	}
	if s.Exports[0].Dirty.Files != 1 || s.Exports[0].Dirty.Bytes != 5 || s.Exports[1].Dirty.Files != 2 || s.Exports[1].Dirty.Bytes != 13 {
		t.Errorf("dirty by export: %+v, %+v", s.Exports[0].Dirty, s.Exports[1].Dirty)
	}
	if s.Dirty.Files != 3 || s.Dirty.Bytes != 18 || s.Cache.MaxBytes != s.Exports[0].Cache.MaxBytes+s.Exports[1].Cache.MaxBytes {
		t.Errorf("totals: dirty %+v, cache %+v", s.Dirty, s.Cache)
	}
	if !s.Health.OK || !s.Exports[0].Health.OK {
		t.Errorf("health: %+v", s.Health)
	}

	// One export's backend down: that export and the whole are unhealthy,
	// the problem named with the export.
	projects.down.Store(true)
	s = e.status()
	if s.Health.OK || len(s.Health.Problems) != 1 || s.Health.Problems[0] != "/projects: backend unreachable: timeout" ||
		!s.Exports[0].Health.OK || s.Exports[1].Health.OK {
		t.Errorf("one backend down: %+v; by export %+v %+v", s.Health, s.Exports[0].Health, s.Exports[1].Health)
	}
	projects.down.Store(false)

	// flush of a path in one export uploads there only.
	if code, b := e.do("POST", "/v1/flush", map[string]any{"path": "/office/docs", "wait": true}); code != 200 || !strings.Contains(string(b), `"done":true`) {
		t.Fatalf("flush /office/docs: %d %s", code, b)
	}
	if got, err := os.ReadFile(filepath.Join(office.storeDir, "docs", "a.txt")); err != nil || string(got) != "hello" {
		t.Errorf("office backend docs/a.txt = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(projects.storeDir, "p.txt")); err == nil {
		t.Error("flush of /office/docs uploaded /projects/p.txt")
	}
	// The export given apart, the path inside it.
	if code, b := e.do("POST", "/v1/flush", map[string]any{"path": "p.txt", "export": "/projects", "wait": true}); code != 200 {
		t.Fatalf("flush p.txt of /projects: %d %s", code, b)
	}
	if _, err := os.Stat(filepath.Join(projects.storeDir, "p.txt")); err != nil {
		t.Errorf("flush of /projects p.txt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(projects.storeDir, "q.txt")); err == nil {
		t.Error("flush of /projects p.txt uploaded q.txt too")
	}

	// flush of everything: both exports, progress summed.
	writeCacheFile(t, office.cache, cache.RootIno, "o.txt", "office")
	code, b := e.do("POST", "/v1/flush", map[string]any{"path": "", "wait": true})
	if code != 200 {
		t.Fatalf("flush everything: %d %s", code, b)
	}
	var first Progress
	if err := json.Unmarshal(bytes.SplitN(b, []byte("\n"), 2)[0], &first); err != nil || first.Files != 2 || first.Bytes != 12 {
		t.Errorf("first progress line of flushing everything: %+v, %v (%s); want 2 files, 12 bytes", first, err, b)
	}
	for _, f := range []string{filepath.Join(office.storeDir, "o.txt"), filepath.Join(projects.storeDir, "q.txt")} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after flushing everything: %v", err)
		}
	}
	if s := e.status(); s.Dirty.Files != 0 {
		t.Errorf("dirty after flushing everything: %+v", s.Dirty)
	}

	for _, tt := range []struct {
		path string
		body any
		code int
		want string
	}{
		{"/v1/pin", map[string]any{"path": "/office/docs/a.txt"}, 200, `"path": "/office/docs/a.txt"`},
		{"/v1/unpin", map[string]any{"path": "office/docs"}, 200, `"files": 1`},
		{"/v1/refresh", map[string]any{"path": "/projects/p.txt"}, 200, `"path": "/projects/p.txt"`},
		{"/v1/refresh", map[string]any{"path": "/"}, 200, `"refreshed": true`},
		{"/v1/evict", map[string]any{"path": "/"}, 200, `"bytes": 24`}, // 5+6 of /office, 7+6 of /projects
		{"/v1/pin", map[string]any{"path": "/docs/a.txt"}, 404, "/docs/a.txt is in no export"},
		{"/v1/pin", map[string]any{"path": "/office/nope"}, 404, "/office/nope: no such file or directory in the export"},
		{"/v1/evict", map[string]any{"path": "a", "export": "/archive"}, 404, "no export /archive"},
		{"/v1/flush", map[string]any{"path": "/x"}, 404, "is in no export"},
	} {
		code, b := e.do("POST", tt.path, tt.body)
		if code != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s %v: %d %s, want %d with %q", tt.path, tt.body, code, b, tt.code, tt.want)
		}
	}
	if s := e.status(); s.Cache.UsedBytes != 0 || s.Exports[1].Cache.UsedBytes != 0 {
		t.Errorf("used after evicting everything: %+v", s.Cache)
	}
}

// TestAdminFailingPaths: a failing upload is shown in its export, its
// path written as the verbs take it, in the export's status and in the
// sum; the unchanged export stays healthy.
func TestAdminFailingPaths(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	fs := faultstore.New(mem)
	fs.Set(faultstore.Put, faultstore.Fault{Err: errors.New("503 SlowDown")})
	caches := map[string]*cache.Cache{}
	var exports []Export
	for _, name := range []string{"/", "/office"} {
		cc := cache.DefaultConfig()
		cc.Dir, cc.Store, cc.Logger, cc.UploadDelay = t.TempDir(), backend.Store(memstore.New()), testutil.Logger(), time.Hour
		if name == "/office" {
			cc.Store = fs
		}
		c, err := cache.New(ctx, cc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		caches[name] = c
		exports = append(exports, Export{Name: name, Cache: c})
	}
	a, err := New(Config{Socket: filepath.Join(t.TempDir(), "admin.sock"), Exports: exports,
		Health: HealthConfig{DirtyFraction: 1, OldestDirty: time.Hour, FailingFor: time.Hour, FailingAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	defer a.Close()
	d, _, err := caches["/office"].Mkdir(ctx, cache.RootIno, "docs", cache.NewAttr{Mode: 0o755})
	if err != nil {
		t.Fatal(err)
	}
	writeCacheFile(t, caches["/office"], d.Ino, "a.txt", "hello")
	fctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	// Fails while Put does; the upload's attempt is what matters.
	_ = caches["/office"].FlushIno(fctx, cache.RootIno, nil)
	var s Status
	testutil.Poll(10*time.Second, func() bool { s = a.Status(); return len(s.Failing) > 0 })
	// The folder's marker fails too.
	i := slices.IndexFunc(s.Failing, func(f Failing) bool { return f.Path == "/office/docs/a.txt" })
	if i < 0 || s.Failing[i].Export != "/office" || !strings.Contains(s.Failing[i].Error, "503 SlowDown") {
		t.Fatalf("failing: %+v", s.Failing)
	}
	if len(s.Exports[1].Failing) != len(s.Failing) || len(s.Exports[0].Failing) != 0 || !s.Exports[0].Health.OK ||
		s.Health.OK || !strings.HasPrefix(s.Health.Problems[0], "/office: ") {
		t.Errorf("by export: %+v\n%+v\nhealth %+v", s.Exports[0], s.Exports[1], s.Health)
	}
	n, last := lastFailing([]target{{x: a.xs[0]}, {x: a.xs[1]}})
	if n != len(s.Failing) || !strings.Contains(last, "put /office/docs") {
		t.Errorf("lastFailing = %d %q", n, last)
	}
	_, _, u := totals([]ExportStatus{{Name: "/a", Uploads: UploadStatus{QueueOps: 1, LastError: "boom"}},
		{Name: "/b", Uploads: UploadStatus{QueueOps: 2}}})
	if u.QueueOps != 3 || u.LastError != "/a: boom" {
		t.Errorf("totals: %+v", u)
	}
}
