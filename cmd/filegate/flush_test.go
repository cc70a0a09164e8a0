package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/admin"
)

// TestFlushWaitOnlyWhenInTheBackend: while the backend refuses uploads,
// flush --wait does not return success: with --timeout it gives up
// saying what is left and why; once the backend takes them, it returns.
func TestFlushWaitOnlyWhenInTheBackend(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	fs := faultstore.New(mem)
	fs.Set(faultstore.Put, faultstore.Fault{Err: errors.New("503 SlowDown")})
	cc := cache.DefaultConfig()
	cc.Dir, cc.Store, cc.UploadDelay = t.TempDir(), fs, time.Hour
	c, err := cache.New(ctx, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sock := filepath.Join(t.TempDir(), "admin.sock")
	a, err := admin.New(admin.Config{Socket: sock, Started: time.Now(),
		Exports: []admin.Export{{Name: "/", Cache: c}}})
	if err != nil {
		t.Fatal(err)
	}
	go a.Serve()
	defer a.Close()

	f, _, err := c.Create(ctx, cache.RootIno, "report.txt", cache.NewAttr{Mode: 0o644})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.WriteAt(ctx, f.Ino, []byte("quarterly numbers"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Commit(ctx, f.Ino); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	t0 := time.Now()
	code := run([]string{"flush", "--wait", "--timeout", "1500ms", "--socket", sock, "/report.txt"}, &out, &errb)
	if code != exitFailure || !strings.Contains(errb.String(), "flush /report.txt: not done after 1.5s: 1 files (17 B) not uploaded yet") {
		t.Fatalf("flush with the backend refusing: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if time.Since(t0) > 10*time.Second {
		t.Errorf("--timeout 1.5s took %s", time.Since(t0))
	}
	if !strings.Contains(out.String()+errb.String(), "503 SlowDown") {
		t.Errorf("the failing upload's error is not shown:\n%s\n%s", out.String(), errb.String())
	}
	if _, err := mem.Stat(ctx, "report.txt"); err == nil {
		t.Fatal("the file reached the backend while Put failed")
	}

	fs.Clear()
	out.Reset()
	errb.Reset()
	if code := run([]string{"flush", "--wait", "--socket", sock, "report.txt"}, &out, &errb); code != exitOK {
		t.Fatalf("flush after the backend recovered: exit %d\n%s\n%s", code, out.String(), errb.String())
	}
	if _, err := mem.Stat(ctx, "report.txt"); err != nil {
		t.Fatalf("flush --wait returned but the backend lacks the file: %v", err)
	}
}
