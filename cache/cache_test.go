package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/posix"
)

func newTestCache(t *testing.T, dir string, store backend.Store) *Cache {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Dir, cfg.Store = dir, store
	cfg.UploadDelay = 10 * time.Millisecond
	cfg.RetryMin, cfg.RetryMax = time.Millisecond, 20*time.Millisecond
	c, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// errOf and errOf2 are the error of a call that returns one or two
// values before it.
func errOf[A any](_ A, err error) error          { return err }
func errOf2[A, B any](_ A, _ B, err error) error { return err }

func mustCreate(t *testing.T, c *Cache, dir Ino, name string) Attr {
	t.Helper()
	a, _, err := c.Create(context.Background(), dir, name, NewAttr{Mode: 0o644})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return a
}

func mustMkdir(t *testing.T, c *Cache, dir Ino, name string) Attr {
	t.Helper()
	a, _, err := c.Mkdir(context.Background(), dir, name, NewAttr{Mode: 0o755})
	if err != nil {
		t.Fatalf("mkdir %s: %v", name, err)
	}
	return a
}

func mustWrite(t *testing.T, c *Cache, ino Ino, off int64, data string) {
	t.Helper()
	if _, _, err := c.WriteAt(context.Background(), ino, []byte(data), off); err != nil {
		t.Fatalf("write: %v", err)
	}
	if _, err := c.Commit(context.Background(), ino); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

func readAll(t *testing.T, c *Cache, ino Ino) string {
	t.Helper()
	var out []byte
	buf := make([]byte, 64<<10+7) // odd size to cross chunk boundaries
	for off := int64(0); ; {
		n, err := c.ReadAt(context.Background(), ino, buf, off)
		out = append(out, buf[:n]...)
		off += int64(n)
		if errors.Is(err, io.EOF) {
			return string(out)
		}
		if err != nil {
			t.Fatalf("read: %v", err)
		}
	}
}

func storeBody(t *testing.T, s backend.Store, key string) string {
	t.Helper()
	r, err := s.Get(context.Background(), key, 0, -1, "")
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func flush(t *testing.T, c *Cache) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReadUpload(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testWriteReadUpload(t, newStore()) })
	}
}

func testWriteReadUpload(t *testing.T, s backend.Store) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), s)
	d := mustMkdir(t, c, RootIno, "docs")
	f := mustCreate(t, c, d.Ino, "a.txt")
	mustWrite(t, c, f.Ino, 0, "hello")
	mustWrite(t, c, f.Ino, 5, " world")
	if got := readAll(t, c, f.Ino); got != "hello world" {
		t.Fatalf("read %q", got)
	}
	a, _ := c.GetAttr(ctx, f.Ino)
	if a.Size != 11 || a.Nlink != 1 || !a.Mode.IsRegular() || a.Mode.Perm() != 0o644 {
		t.Fatalf("attr %+v", a)
	}
	flush(t, c)
	if got := storeBody(t, s, "docs/a.txt"); got != "hello world" {
		t.Fatalf("backend has %q", got)
	}
	info, err := s.Stat(ctx, "docs/")
	if err != nil || info.Attrs == nil || !info.Attrs.Mode.IsDir() {
		t.Fatalf("dir marker %+v %v", info, err)
	}
	if st := c.Stats(); st.DirtyFiles != 0 || st.JournalOps != 0 {
		t.Fatalf("after flush: %+v", st)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), memstore.New())
	d := mustMkdir(t, c, RootIno, "d")
	f := mustCreate(t, c, d.Ino, "f")
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		err  error
		want syscall.Errno
	}{
		{"create existing", func() error { _, _, err := c.Create(ctx, d.Ino, "f", NewAttr{}); return err }(), syscall.EEXIST},
		{"mkdir existing", func() error { _, _, err := c.Mkdir(ctx, RootIno, "d", NewAttr{}); return err }(), syscall.EEXIST},
		{"lookup missing", func() error { _, err := c.Lookup(ctx, d.Ino, "nope"); return err }(), syscall.ENOENT},
		{"lookup in file", func() error { _, err := c.Lookup(ctx, f.Ino, "x"); return err }(), syscall.ENOTDIR},
		{"name too long", func() error { _, _, err := c.Create(ctx, d.Ino, long, NewAttr{}); return err }(), syscall.ENAMETOOLONG},
		{"slash in name", func() error { _, _, err := c.Create(ctx, d.Ino, "a/b", NewAttr{}); return err }(), syscall.EINVAL},
		{"rmdir non-empty", errOf(c.Rmdir(ctx, RootIno, "d")), syscall.ENOTEMPTY},
		{"rmdir file", errOf(c.Rmdir(ctx, d.Ino, "f")), syscall.ENOTDIR},
		{"remove dir", errOf(c.Remove(ctx, RootIno, "d")), syscall.EISDIR},
		{"remove missing", errOf(c.Remove(ctx, RootIno, "zz")), syscall.ENOENT},
		{"rename into self", errOf2(c.Rename(ctx, RootIno, "d", d.Ino, "sub")), syscall.EINVAL},
		{"rename dir over file", func() error { mustMkdir(t, c, RootIno, "e"); return errOf2(c.Rename(ctx, RootIno, "e", d.Ino, "f")) }(), syscall.ENOTDIR},
		{"rename file over dir", func() error { mustCreate(t, c, RootIno, "g"); return errOf2(c.Rename(ctx, RootIno, "g", RootIno, "d")) }(), syscall.EISDIR},
		{"read dir", func() error { _, err := c.ReadAt(ctx, d.Ino, make([]byte, 1), 0); return err }(), syscall.EISDIR},
		{"link dir", func() error { _, _, err := c.Link(ctx, d.Ino, RootIno, "dl"); return err }(), syscall.EPERM},
		{"readlink file", func() error { _, err := c.Readlink(ctx, f.Ino); return err }(), syscall.EINVAL},
		{"getattr stale", func() error { _, err := c.GetAttr(ctx, 9999); return err }(), syscall.ESTALE},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("got %v, want %v", tc.err, tc.want)
			}
		})
	}
}

func TestRenameKeepsInodeAndMovesBackend(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testRenameKeepsInodeAndMovesBackend(t, newStore()) })
	}
}

func testRenameKeepsInodeAndMovesBackend(t *testing.T, s backend.Store) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), s)
	d := mustMkdir(t, c, RootIno, "d1")
	sub := mustMkdir(t, c, d.Ino, "sub")
	f := mustCreate(t, c, sub.Ino, "f")
	mustWrite(t, c, f.Ino, 0, "data")
	flush(t, c)
	if _, _, err := c.Rename(ctx, RootIno, "d1", RootIno, "d2"); err != nil {
		t.Fatal(err)
	}
	p, err := c.Path(ctx, f.Ino)
	if err != nil || p != "d2/sub/f" {
		t.Fatalf("path %q %v", p, err)
	}
	if got := readAll(t, c, f.Ino); got != "data" {
		t.Fatalf("read %q", got)
	}
	flush(t, c)
	if got := storeBody(t, s, "d2/sub/f"); got != "data" {
		t.Fatalf("backend %q", got)
	}
	if _, err := s.Stat(ctx, "d1/sub/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("old key still there: %v", err)
	}
	// Over an existing file.
	g := mustCreate(t, c, RootIno, "g")
	mustWrite(t, c, g.Ino, 0, "gg")
	if _, _, err := c.Rename(ctx, RootIno, "g", sub.Ino, "f"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetAttr(ctx, f.Ino); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("replaced inode: %v", err)
	}
	flush(t, c)
	if got := storeBody(t, s, "d2/sub/f"); got != "gg" {
		t.Fatalf("backend %q", got)
	}
}

// stores returns each kind of backend the cache must work with.
func stores(t *testing.T) map[string]func() backend.Store {
	return map[string]func() backend.Store{
		"memstore": func() backend.Store { return memstore.New() },
		"posix": func() backend.Store {
			s, err := posix.New(posix.Config{Root: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func TestLazyLoadFromBackend(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testLazyLoad(t, newStore()) })
	}
}

func testLazyLoad(t *testing.T, s backend.Store) {
	ctx := context.Background()
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	put := func(key, body string, attrs *backend.Attrs) {
		if _, err := s.Put(ctx, key, strings.NewReader(body), int64(len(body)), attrs); err != nil {
			t.Fatal(err)
		}
	}
	put("top.txt", "top", nil)
	put("dir/", "", &backend.Attrs{Mode: fs.ModeDir | 0o750, MTime: mtime})
	put("dir/inner.bin", "inner-content", &backend.Attrs{Mode: 0o600, UID: 7, GID: 8, MTime: mtime})
	put("dir/link", "inner.bin", &backend.Attrs{Mode: fs.ModeSymlink | 0o777, MTime: mtime})
	put("implicit/deep/x", "x", nil)
	c := newTestCache(t, t.TempDir(), s)

	var names []string
	if err := c.ReadDir(ctx, RootIno, 0, func(e DirEntry) bool { names = append(names, e.Name); return true }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names) != "[dir implicit top.txt]" {
		t.Fatalf("root lists %v", names)
	}
	d, err := c.Lookup(ctx, RootIno, "dir")
	if err != nil || !d.IsDir() {
		t.Fatalf("dir %+v %v", d, err)
	}
	in, err := c.Lookup(ctx, d.Ino, "inner.bin")
	if err != nil || in.Size != 13 || in.UID != 7 || in.Mode.Perm() != 0o600 || !in.Mtime.Equal(mtime) {
		t.Fatalf("inner %+v %v", in, err)
	}
	if got := readAll(t, c, in.Ino); got != "inner-content" {
		t.Fatalf("read %q", got)
	}
	l, _ := c.Lookup(ctx, d.Ino, "link")
	if target, err := c.Readlink(ctx, l.Ino); err != nil || target != "inner.bin" {
		t.Fatalf("readlink %q %v", target, err)
	}
	// Write into a backend file: it is fetched whole, then changed.
	mustWrite(t, c, in.Ino, 0, "INNER")
	if got := readAll(t, c, in.Ino); got != "INNER-content" {
		t.Fatalf("after write %q", got)
	}
	// A tree never listed moves whole.
	if _, _, err := c.Rename(ctx, RootIno, "implicit", RootIno, "moved"); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if got := storeBody(t, s, "moved/deep/x"); got != "x" {
		t.Fatalf("moved %q", got)
	}
	if got := storeBody(t, s, "dir/inner.bin"); got != "INNER-content" {
		t.Fatalf("uploaded %q", got)
	}
}

func TestReadDirCookiesStable(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), memstore.New())
	d := mustMkdir(t, c, RootIno, "big")
	const n = 2000
	for i := range n {
		mustCreate(t, c, d.Ino, fmt.Sprintf("f%05d", i))
	}
	seen := map[string]int{}
	var cookie uint64
	removed := 0
	for {
		count := 0
		err := c.ReadDir(ctx, d.Ino, cookie, func(e DirEntry) bool {
			seen[e.Name]++
			cookie = e.Cookie
			count++
			return count < 100
		})
		if err != nil {
			t.Fatal(err)
		}
		if count == 0 {
			break
		}
		if removed >= n/2 {
			continue
		}
		// Churn between pages: remove an entry already seen and add one.
		if _, err := c.Remove(ctx, d.Ino, fmt.Sprintf("f%05d", removed)); err != nil {
			t.Fatal(err)
		}
		removed++
		mustCreate(t, c, d.Ino, fmt.Sprintf("new%05d", removed))
	}
	for i := range n {
		if seen[fmt.Sprintf("f%05d", i)] != 1 {
			t.Fatalf("f%05d seen %d times", i, seen[fmt.Sprintf("f%05d", i)])
		}
	}
}

func TestPersistsAcrossRestart(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testPersistsAcrossRestart(t, newStore()) })
	}
}

func testPersistsAcrossRestart(t *testing.T, s backend.Store) {
	ctx := context.Background()
	dir := t.TempDir()
	c := newTestCache(t, dir, s)
	d := mustMkdir(t, c, RootIno, "d")
	f := mustCreate(t, c, d.Ino, "f")
	mustWrite(t, c, f.Ino, 0, "persist me")
	if _, _, err := c.Symlink(ctx, d.Ino, "l", "f", NewAttr{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Link(ctx, f.Ino, RootIno, "hard"); err != nil {
		t.Fatal(err)
	}
	c.Close()
	c2 := newTestCache(t, dir, s)
	a, err := c2.GetAttr(ctx, f.Ino)
	if err != nil || a.Nlink != 2 || a.Size != 10 {
		t.Fatalf("after restart %+v %v", a, err)
	}
	if got := readAll(t, c2, f.Ino); got != "persist me" {
		t.Fatalf("read %q", got)
	}
	next := mustCreate(t, c2, RootIno, "new")
	if next.Ino <= f.Ino {
		t.Fatalf("inode number reused: %d", next.Ino)
	}
	flush(t, c2)
	if got := storeBody(t, s, "d/f"); got != "persist me" {
		t.Fatalf("backend %q", got)
	}
}

func TestHardLinks(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testHardLinks(t, newStore()) })
	}
}

func testHardLinks(t *testing.T, s backend.Store) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), s)
	f := mustCreate(t, c, RootIno, "a")
	mustWrite(t, c, f.Ino, 0, "shared")
	if _, _, err := c.Link(ctx, f.Ino, RootIno, "b"); err != nil {
		t.Fatal(err)
	}
	flush(t, c)
	if _, err := c.Remove(ctx, RootIno, "a"); err != nil {
		t.Fatal(err)
	}
	a, err := c.Lookup(ctx, RootIno, "b")
	if err != nil || a.Ino != f.Ino || a.Nlink != 1 {
		t.Fatalf("b %+v %v", a, err)
	}
	flush(t, c)
	if got := storeBody(t, s, "b"); got != "shared" {
		t.Fatalf("backend b %q", got)
	}
	if _, err := s.Stat(ctx, "a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a still in backend: %v", err)
	}
}

func TestSetAttr(t *testing.T) {
	for name, newStore := range stores(t) {
		t.Run(name, func(t *testing.T) { testSetAttr(t, newStore()) })
	}
}

func testSetAttr(t *testing.T, s backend.Store) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), s)
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "0123456789")
	flush(t, c)
	mode := fs.ModeSetuid | 0o750
	uid, gid := uint32(1000), uint32(100)
	mt := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	ch, err := c.SetAttr(ctx, f.Ino, SetAttr{Mode: &mode, UID: &uid, GID: &gid, Mtime: &mt})
	a := ch.After
	if err != nil || a.Mode != fs.ModeSetuid|0o750 || a.UID != 1000 || !a.Mtime.Equal(mt) {
		t.Fatalf("setattr %+v %v", a, err)
	}
	flush(t, c)
	info, err := s.Stat(ctx, "f")
	if err != nil || info.Attrs == nil || info.Attrs.UID != 1000 || !info.Attrs.MTime.Equal(mt) {
		t.Fatalf("backend attrs %+v %v", info.Attrs, err)
	}
	for _, size := range []int64{3, 20, 0} {
		ch, err = c.SetAttr(ctx, f.Ino, SetAttr{Size: &size})
		if a = ch.After; err != nil || a.Size != size {
			t.Fatalf("truncate %d: %+v %v", size, a, err)
		}
	}
	mustWrite(t, c, f.Ino, 0, "ab")
	size := int64(5)
	if _, err := c.SetAttr(ctx, f.Ino, SetAttr{Size: &size}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, f.Ino); got != "ab\x00\x00\x00" {
		t.Fatalf("read %q", got)
	}
	flush(t, c)
	if got := storeBody(t, s, "f"); !bytes.Equal([]byte(got), []byte("ab\x00\x00\x00")) {
		t.Fatalf("backend %q", got)
	}
}
