package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

type adminEnv struct {
	t      *testing.T
	xs     []*adminTestExport
	cache  *cache.Cache // the first export's
	admin  *Server
	level  *slog.LevelVar
	client *http.Client
}

// adminTestExport is one export of an adminEnv: its cache over a posix
// store in storeDir.
type adminTestExport struct {
	name     string
	cache    *cache.Cache
	storeDir string
	down     atomic.Bool // the backend's last probe failed
}

// newAdminEnv serves the admin API of one export named "/", or of the
// exports named.
func newAdminEnv(t *testing.T, names ...string) *adminEnv {
	t.Helper()
	if len(names) == 0 {
		names = []string{"/"}
	}
	e := &adminEnv{t: t, level: new(slog.LevelVar)}
	var exports []Export
	for _, name := range names {
		x := &adminTestExport{name: name, storeDir: t.TempDir()}
		pc := posix.DefaultConfig()
		pc.Root = x.storeDir
		ps, err := posix.New(pc)
		if err != nil {
			t.Fatal(err)
		}
		cc := cache.DefaultConfig()
		cc.Dir, cc.Store, cc.Logger = t.TempDir(), ps, testutil.Logger()
		cc.UploadDelay = time.Hour // nothing goes up unless flushed
		if x.cache, err = cache.New(context.Background(), cc); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			x.cache.Close()
			ps.Close()
		})
		e.xs = append(e.xs, x)
		exports = append(exports, Export{Name: name, Cache: x.cache,
			Backend: func() BackendStatus {
				b := BackendStatus{Name: x.storeDir, Probed: true, Reachable: !x.down.Load()}
				if x.down.Load() {
					b.ProbeError = "timeout"
				}
				return b
			}})
	}
	e.cache = e.xs[0].cache
	sock := filepath.Join(t.TempDir(), "admin.sock")
	var err error
	e.admin, err = New(Config{Socket: sock, Version: "test", Started: time.Now(), Listen: "127.0.0.1:0",
		Exports: exports, LogLevel: e.level, Logger: testutil.Logger(),
		Limits: func() LimitsStatus { return LimitsStatus{UploadBytesPerSec: 100, Rule: "always"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- e.admin.Serve() }()
	e.client = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return new(net.Dialer).DialContext(ctx, "unix", sock)
	}}}
	// Registered last, so it runs before the caches close.
	t.Cleanup(func() {
		e.client.CloseIdleConnections()
		if err := e.admin.Close(); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
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
	return writeCacheFile(e.t, e.cache, dir, name, data)
}

// writeCacheFile writes a new file name in dir of c, dirty.
func writeCacheFile(t *testing.T, c *cache.Cache, dir cache.Ino, name, data string) cache.Attr {
	t.Helper()
	ctx := context.Background()
	a, _, err := c.Create(ctx, dir, name, cache.NewAttr{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WriteAt(ctx, a.Ino, []byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, a.Ino); err != nil {
		t.Fatal(err)
	}
	return a
}
