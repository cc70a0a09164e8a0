package posix_test

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/internal/testutil"
)

// noTemps fails if a temp file was left anywhere under root.
func noTemps(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".filegate-tmp-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func listKeys(t *testing.T, s *posix.Store, opts backend.ListOptions) []string {
	t.Helper()
	var keys []string
	err := s.List(t.Context(), opts, func(oi backend.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestFilesAreReal(t *testing.T) {
	s := testutil.PosixStore(t)
	root := s.RootDir()
	ctx := t.Context()
	mtime := time.Date(2020, 5, 6, 7, 8, 9, 10, time.UTC)
	if _, err := s.Put(ctx, "a/b.txt", strings.NewReader("body"), 4, &backend.Attrs{Mode: fs.ModeSetuid | 0o741, MTime: mtime}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(filepath.Join(root, "a/b.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != fs.ModeSetuid|0o741 || !fi.ModTime().Equal(mtime) {
		t.Errorf("file mode %v mtime %v", fi.Mode(), fi.ModTime())
	}
	if b, _ := os.ReadFile(filepath.Join(root, "a/b.txt")); string(b) != "body" {
		t.Errorf("file holds %q", b)
	}
	if _, err := s.Put(ctx, "a/ln", strings.NewReader("b.txt"), 5, &backend.Attrs{Mode: fs.ModeSymlink | 0o777}); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(filepath.Join(root, "a/ln")); err != nil || target != "b.txt" {
		t.Errorf("Readlink = %q, %v", target, err)
	}
	if fi, err := os.Stat(filepath.Join(root, "a")); err != nil || fi.Mode() != fs.ModeDir|0o755 {
		t.Errorf("parent made with mode %v, %v; want DirPerm", fi.Mode(), err)
	}
}

func TestDefaultPermsIgnoreUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	cfg := posix.DefaultConfig()
	cfg.Root = t.TempDir()
	cfg.FilePerm, cfg.DirPerm = 0o664, fs.ModeSetgid|0o775
	s, err := posix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oi, err := s.Put(t.Context(), "d/f", strings.NewReader("x"), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if oi.Attrs.Mode != 0o664 {
		t.Errorf("file mode %v, want 0664", oi.Attrs.Mode)
	}
	if di, err := s.Stat(t.Context(), "d/"); err != nil || di.Attrs.Mode != fs.ModeDir|fs.ModeSetgid|0o775 {
		t.Errorf("dir mode %v, %v", di.Attrs.Mode, err)
	}
}

func TestOtherToolsFiles(t *testing.T) {
	s := testutil.PosixStore(t)
	root := s.RootDir()
	os.MkdirAll(filepath.Join(root, "ext/sub"), 0o755)
	os.WriteFile(filepath.Join(root, "ext/f"), []byte("outside"), 0o600)
	os.WriteFile(filepath.Join(root, "ext/.filegate-tmp-123"), []byte("half"), 0o600)
	os.Symlink("sub", filepath.Join(root, "ext/dirlink"))
	if err := syscall.Mkfifo(filepath.Join(root, "ext/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}

	got := listKeys(t, s, backend.ListOptions{})
	want := []string{"ext/", "ext/dirlink", "ext/f", "ext/fifo", "ext/sub/"}
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
	// A symlink to a directory is an object, not a prefix to descend.
	got = listKeys(t, s, backend.ListOptions{Prefix: "ext/", Delimiter: "/"})
	want = []string{"ext/", "ext/dirlink", "ext/f", "ext/fifo", "ext/sub/"}
	if !slices.Equal(got, want) {
		t.Errorf("delimited List = %q, want %q", got, want)
	}
	if got := listKeys(t, s, backend.ListOptions{Prefix: "ext/dirlink/"}); len(got) != 0 {
		t.Errorf("List through a symlink = %q", got)
	}

	oi, err := s.Stat(t.Context(), "ext/fifo")
	if err != nil || oi.Attrs.Mode.Type() != fs.ModeNamedPipe {
		t.Errorf("Stat(fifo) = %+v, %v", oi, err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Get(t.Context(), "ext/fifo", 0, -1, "")
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("Get(fifo) = %v, want ErrUnsupported", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get(fifo) hangs")
	}

	// Another tool's chmod shows in the ETag.
	before, _ := s.Stat(t.Context(), "ext/f")
	os.Chmod(filepath.Join(root, "ext/f"), 0o644)
	after, _ := s.Stat(t.Context(), "ext/f")
	if before.ETag == after.ETag {
		t.Error("ETag unchanged by chmod")
	}
}

func TestKindsAreExact(t *testing.T) {
	s := testutil.PosixStore(t)
	ctx := t.Context()
	if _, err := s.Put(ctx, "d/f", strings.NewReader("x"), 1, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "d", 0, -1, ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Get(d) of a directory = %v, want fs.ErrNotExist", err)
	}
	if _, err := s.Get(ctx, "d/", 0, -1, ""); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Get(d/) = %v, want EISDIR", err)
	}
	if err := s.Delete(ctx, "d"); err != nil {
		t.Errorf("Delete(d) of a directory = %v, want nil (no such file)", err)
	}
	if _, err := s.Stat(ctx, "d/f"); err != nil {
		t.Error("Delete(d) removed something")
	}
	if err := s.Delete(ctx, "d/f/"); err != nil {
		t.Errorf("Delete(d/f/) of a file = %v, want nil (no such directory)", err)
	}
	if _, err := s.Put(ctx, "d", strings.NewReader("x"), 1, nil); err == nil {
		t.Error("Put of a file over a directory succeeded")
	}
	if _, err := s.Put(ctx, "d/f/g", strings.NewReader("x"), 1, nil); err == nil {
		t.Error("Put below a file succeeded")
	}
	noTemps(t, s.RootDir())
}

func TestSymlinkEscape(t *testing.T) {
	s := testutil.PosixStore(t)
	root := s.RootDir()
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	os.Symlink(outside, filepath.Join(root, "esc"))
	ctx := t.Context()
	if _, err := s.Get(ctx, "esc/secret", 0, -1, ""); err == nil {
		t.Error("Get through a symlink out of Root succeeded")
	}
	if _, err := s.Put(ctx, "esc/new", strings.NewReader("x"), 1, nil); err == nil {
		t.Error("Put through a symlink out of Root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); err == nil {
		t.Error("Put wrote outside Root")
	}
	// The link itself is an ordinary object.
	if b, err := s.Get(ctx, "esc", 0, -1, ""); err != nil {
		t.Error(err)
	} else {
		got, _ := io.ReadAll(b)
		b.Close()
		if string(got) != outside {
			t.Errorf("Get(esc) = %q", got)
		}
	}
}

// slowReader cancels its context after the first read, as a caller giving
// up midway through a large upload would.
type slowReader struct {
	cancel context.CancelFunc
	n      int
}

func (r *slowReader) Read(b []byte) (int, error) {
	r.cancel()
	r.n++
	return copy(b, "xxxx"), nil
}

func (r *slowReader) Seek(int64, int) (int64, error) { return 0, nil }

func TestFailedWritesLeaveNoTemps(t *testing.T) {
	s := testutil.PosixStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	_, err := s.Put(ctx, "d/big", &slowReader{cancel: cancel}, 1<<20, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Put cancelled midway = %v", err)
	}
	if _, err := s.Put(t.Context(), "d/short", strings.NewReader("abc"), 10, nil); err == nil {
		t.Error("short Put succeeded")
	}
	if _, err := s.Put(t.Context(), "d/ln", strings.NewReader("a\x00b"), 3, &backend.Attrs{Mode: fs.ModeSymlink}); err == nil {
		t.Error("Put of a symlink with a NUL in its target succeeded")
	}
	if _, err := s.Put(t.Context(), "d/.filegate-tmp-x", strings.NewReader("x"), 1, nil); !errors.Is(err, backend.ErrInvalidKey) {
		t.Errorf("Put of a reserved name = %v, want ErrInvalidKey", err)
	}
	noTemps(t, s.RootDir())
	if got := listKeys(t, s, backend.ListOptions{}); !slices.Equal(got, []string{"d/"}) {
		t.Errorf("List = %q", got)
	}
}

func TestConfig(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		edit func(*posix.Config)
		ok   bool
	}{
		{"default with root", func(c *posix.Config) { c.Root = dir }, true},
		{"no root", func(c *posix.Config) {}, false},
		{"relative root", func(c *posix.Config) { c.Root = "data" }, false},
		{"file perm with type", func(c *posix.Config) { c.Root = dir; c.FilePerm |= fs.ModeDir }, false},
		{"dir perm with type", func(c *posix.Config) { c.Root = dir; c.DirPerm |= fs.ModeSymlink }, false},
		{"setgid dirs", func(c *posix.Config) { c.Root = dir; c.DirPerm |= fs.ModeSetgid }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := posix.DefaultConfig()
			tc.edit(&cfg)
			if err := cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok %v", err, tc.ok)
			}
		})
	}
	cfg := posix.DefaultConfig()
	cfg.Root = filepath.Join(dir, "missing")
	if _, err := posix.New(cfg); err == nil {
		t.Error("New with a missing Root succeeded")
	}
}

func TestDeleteClearsStaleTemps(t *testing.T) {
	s := testutil.PosixStore(t)
	root := s.RootDir()
	if _, err := s.Put(t.Context(), "d/", strings.NewReader(""), 0, nil); err != nil {
		t.Fatal(err)
	}
	tmp := filepath.Join(root, "d/.filegate-tmp-crashed")
	os.WriteFile(tmp, []byte("half"), 0o600)
	if err := s.Delete(t.Context(), "d/"); !errors.Is(err, backend.ErrNotEmpty) {
		t.Fatalf("Delete with a fresh temp = %v, want ErrNotEmpty", err)
	}
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(tmp, old, old)
	if err := s.Delete(t.Context(), "d/"); err != nil {
		t.Fatalf("Delete with a stale temp = %v", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "d")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory still there: %v", err)
	}
}
