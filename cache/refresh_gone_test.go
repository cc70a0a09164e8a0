package cache

import (
	"context"
	"errors"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
)

// gatedList is a store whose List of one prefix waits, after saying so on
// entered, until release is closed.
type gatedList struct {
	backend.Store
	prefix           string
	entered, release chan struct{}
}

func (g *gatedList) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	if opts.Prefix == g.prefix {
		close(g.entered)
		<-g.release
	}
	return g.Store.List(ctx, opts, fn)
}

// recordHandler sends every record to a channel, dropping those that do
// not fit.
type recordHandler struct{ ch chan slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r:
	default:
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// A directory removed while its background refresh lists it (rm -rf or
// git gc in a folder listed longer than DirTTL ago) has nothing left to
// refresh: no warning that the refresh failed.
func TestRefreshOfRemovedDirectoryIsNoWarning(t *testing.T) {
	ctx := context.Background()
	s := &gatedList{Store: memstore.New(), prefix: "d/", entered: make(chan struct{}), release: make(chan struct{})}
	records := make(chan slog.Record, 1000)
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = t.TempDir(), s
	cfg.DirTTL = time.Nanosecond // every use of a listed directory refreshes it
	cfg.Logger = slog.New(recordHandler{records})
	c, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d := mustMkdir(t, c, RootIno, "d")
	if _, err := c.Lookup(ctx, d.Ino, "x"); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("lookup in d: %v", err)
	}
	<-s.entered // the refresh of d is listing it
	if _, err := c.Rmdir(ctx, RootIno, "d"); err != nil {
		t.Fatal(err)
	}
	close(s.release)
	timeout := time.After(time.Minute) // only against hanging
	for {
		select {
		case r := <-records:
			if r.Level >= slog.LevelWarn {
				t.Fatalf("logged %s %q", r.Level, r.Message)
			}
			if r.Message == "refresh dropped: the directory is gone" {
				return
			}
		case <-timeout:
			t.Fatal("the refresh of d never ended")
		}
	}
}
