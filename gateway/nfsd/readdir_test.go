package nfsd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/cache"
)

// dirPage is one READDIR or READDIRPLUS reply.
type dirPage struct {
	names   []string
	cookies []uint64
	attrs   []fattr  // READDIRPLUS only
	handles [][]byte // READDIRPLUS only
	verf    uint64
	eof     bool
}

// readdirPage issues one READDIR (count is its count) or READDIRPLUS
// (count is maxcount, dircount a quarter of it) and decodes the reply;
// every READDIRPLUS entry must carry attributes and a handle.
func readdirPage(t testing.TB, c *rawClient, dir []byte, plus bool, cookie, verf uint64, count uint32) (dirPage, uint32) {
	t.Helper()
	a := new(args).fh(dir).u64(cookie).u64(verf)
	proc := uint32(16)
	if plus {
		a.u32(count / 4).u32(count)
		proc = 17
	} else {
		a.u32(count)
	}
	st, d := c.nfs(t, rootCred, proc, a.bytes())
	if st != 0 {
		return dirPage{}, st
	}
	if d.bool() {
		d.fattr3()
	}
	p := dirPage{verf: d.uint64()}
	for d.bool() {
		d.uint64()
		name := d.string(255)
		p.names = append(p.names, name)
		p.cookies = append(p.cookies, d.uint64())
		if plus {
			if !d.bool() {
				t.Fatalf("no attributes for %s", name)
			}
			p.attrs = append(p.attrs, d.fattr3())
			if !d.bool() {
				t.Fatalf("no handle for %s", name)
			}
			p.handles = append(p.handles, bytes.Clone(d.opaque(64)))
		}
	}
	p.eof = d.bool()
	if d.err != nil {
		t.Fatal("bad readdir reply")
	}
	if len(d.b) != d.off {
		t.Fatalf("%d bytes after the readdir reply", len(d.b)-d.off)
	}
	return p, st
}

// listAll lists dir to the end with pages of count bytes, each resuming
// from the last cookie with the last verifier, and calls between (if
// set) after the first page. Cookies must rise. It returns how often each
// name came, and the number of calls.
func listAll(t testing.TB, c *rawClient, dir []byte, plus bool, count uint32, between func()) (map[string]int, int) {
	t.Helper()
	seen := map[string]int{}
	var cookie, verf uint64
	for calls := 1; ; calls++ {
		p, st := readdirPage(t, c, dir, plus, cookie, verf, count)
		if st != 0 {
			t.Fatalf("readdir after cookie %d: %d", cookie, st)
		}
		for i, n := range p.names {
			seen[n]++
			if p.cookies[i] <= cookie {
				t.Fatalf("cookie %d of %q not after %d", p.cookies[i], n, cookie)
			}
			cookie = p.cookies[i]
		}
		if p.eof {
			return seen, calls
		}
		if len(p.names) == 0 {
			t.Fatalf("empty page without eof after cookie %d", cookie)
		}
		verf = p.verf
		if calls == 1 && between != nil {
			between()
		}
	}
}

// storeFiles puts n empty files into the store's directory dir before
// the server starts; the cache lists them on first use in a few
// transactions, where as many CREATEs would cost one each.
func storeFiles(dir string, n int) func(*env) {
	return func(e *env) {
		d := filepath.Join(e.storeDir, dir)
		if err := os.Mkdir(d, 0o755); err != nil {
			e.t.Fatal(err)
		}
		for i := range n {
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("file-%05d", i)), nil, 0o644); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// makeFiles creates n empty files in a new directory dir through the
// cache, on any backend (the listing is what is tested, not CREATE).
func (e *env) makeFiles(dir string, n int) cache.Ino {
	e.t.Helper()
	ctx := context.Background()
	d, _, err := e.cache.Mkdir(ctx, cache.RootIno, dir, cache.NewAttr{Mode: 0o755})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		if _, _, err := e.cache.Create(ctx, d.Ino, fmt.Sprintf("file-%05d", i), cache.NewAttr{Mode: 0o644}); err != nil {
			e.t.Fatal(err)
		}
	}
	return d.Ino
}

func TestReaddirLarge(t *testing.T) {
	const n = 10_000
	e := newEnv(t, storeFiles("big", n))
	dir := e.lookupPath("big")
	c := e.raw()
	for _, tc := range []struct {
		name  string
		plus  bool
		count uint32
	}{
		{"readdirplus small pages", true, 4096},
		{"readdirplus linux", true, 128 << 10},
		{"readdir", false, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen, calls := listAll(t, c, dir, tc.plus, tc.count, nil)
			if len(seen) != n+2 || seen["."] != 1 || seen[".."] != 1 {
				t.Fatalf("%d names, want %d", len(seen), n+2)
			}
			for name, k := range seen {
				if k != 1 {
					t.Fatalf("%s listed %d times", name, k)
				}
			}
			t.Logf("%d calls", calls)
		})
	}
	ents, err := e.target.ReadDirPlus("big")
	if err != nil || len(ents) != n {
		t.Fatalf("ReadDirPlus: %d entries, %v", len(ents), err)
	}
}

// TestReaddirWhileChanging changes the directory between pages: every
// entry present throughout is listed exactly once, and none twice.
func TestReaddirWhileChanging(t *testing.T) { forEachBackend(t, testReaddirWhileChanging) }

func testReaddirWhileChanging(t *testing.T, backend func(*env)) {
	const n = 500
	e := newEnv(t, backend)
	dir := e.makeFiles("d", n)
	fh := e.lookupPath("d")
	c := e.raw()
	ctx := context.Background()
	seen, _ := listAll(t, c, fh, true, 4096, func() {
		for i := range 50 {
			if _, err := e.cache.Remove(ctx, dir, fmt.Sprintf("file-%05d", n-1-i)); err != nil {
				t.Fatal(err)
			}
			if _, _, err := e.cache.Create(ctx, dir, fmt.Sprintf("new-%03d", i), cache.NewAttr{Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
		}
	})
	for name, k := range seen {
		if k != 1 {
			t.Fatalf("%s listed %d times", name, k)
		}
	}
	for i := range n - 50 {
		if name := fmt.Sprintf("file-%05d", i); seen[name] != 1 {
			t.Fatalf("%s (never removed) listed %d times", name, seen[name])
		}
	}
	// A fresh listing shows the change.
	seen, _ = listAll(t, c, fh, false, 32<<10, nil)
	if seen["new-000"] != 1 || seen[fmt.Sprintf("file-%05d", n-1)] != 0 || len(seen) != n+2 {
		t.Fatalf("fresh listing: %d names", len(seen))
	}
}

// TestReaddirAttrsFresh: READDIRPLUS reports an entry's current
// attributes, the same GETATTR gives for every kind of inode, whatever
// was listed before.
func TestReaddirAttrsFresh(t *testing.T) { forEachBackend(t, testReaddirAttrsFresh) }

func testReaddirAttrsFresh(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.makeFiles("d", 30)
	fh := e.lookupPath("d")
	c := e.raw()
	// entry finds name in dir, page by page, and returns its attributes
	// and handle.
	entry := func(dir []byte, name string) (fattr, []byte) {
		t.Helper()
		var cookie, verf uint64
		for {
			p, st := readdirPage(t, c, dir, true, cookie, verf, 4096)
			if st != 0 {
				t.Fatalf("readdirplus: %d", st)
			}
			for i, n := range p.names {
				if n == name {
					return p.attrs[i], p.handles[i]
				}
				cookie = p.cookies[i]
			}
			if p.eof {
				t.Fatalf("%s not listed", name)
			}
			verf = p.verf
		}
	}
	if a, _ := entry(fh, "file-00025"); a.size != 0 {
		t.Fatalf("size %d", a.size)
	}
	e.writeFile("d/file-00025", []byte("12345"))
	if a, _ := entry(fh, "file-00025"); a.size != 5 {
		t.Fatalf("size %d after write, want 5", a.size)
	}

	// Every kind of inode: the listing's attributes and handle are
	// GETATTR's and LOOKUP's.
	_, err := e.target.Mkdir("kinds", 0o755)
	must(t, err)
	e.writeFile("kinds/reg", []byte("12345"))
	_, err = e.target.Mkdir("kinds/dir", 0o700)
	must(t, err)
	must(t, e.target.Symlink("reg", "kinds/lnk"))
	kinds := e.lookupPath("kinds")
	for name, typ := range map[string]uint32{"fifo": nf3Fifo, "blk": nf3Blk} {
		a := new(args).fh(kinds).name(name).u32(typ).modeSattr(0o640)
		if typ == nf3Blk {
			a.u32(8).u32(1)
		}
		if st, _ := c.nfs(t, rootCred, 11, a.bytes()); st != 0 {
			t.Fatalf("mknod %s: %d", name, st)
		}
	}
	if st, _ := c.nfs(t, rootCred, 15, new(args).fh(e.lookupPath("kinds/reg")).fh(kinds).name("hard").bytes()); st != 0 {
		t.Fatalf("link: %d", st)
	}
	for _, name := range []string{"reg", "dir", "lnk", "fifo", "blk", "hard"} {
		listed, lh := entry(kinds, name)
		fh, st := lookup(t, c, rootCred, kinds, name)
		if st != 0 {
			t.Fatalf("lookup %s: %d", name, st)
		}
		got, _ := getattr(t, c, rootCred, fh)
		if listed != got || !bytes.Equal(lh, fh) {
			t.Errorf("%s: listed %+v %x, getattr %+v %x", name, listed, lh, got, fh)
		}
	}
	if a, _ := entry(kinds, "hard"); a.nlink != 2 || a.size != 5 || a.typ != nf3Reg {
		t.Errorf("hard link listed as %+v", a)
	}
}

// TestReaddirCookieVerifier: a resumed listing with the verifier the
// server gave goes on; one with a verifier it never gave is BAD_COOKIE;
// a zero verifier is accepted (clients that do not keep it).
func TestReaddirCookieVerifier(t *testing.T) {
	e := newEnv(t)
	e.makeFiles("d", 100)
	fh := e.lookupPath("d")
	c := e.raw()
	first, st := readdirPage(t, c, fh, false, 0, 0, 1024)
	if st != 0 || first.eof || first.verf == 0 {
		t.Fatalf("first page: %d eof %v verf %x", st, first.eof, first.verf)
	}
	last := first.cookies[len(first.cookies)-1]
	for _, plus := range []bool{false, true} {
		if p, st := readdirPage(t, c, fh, plus, last, first.verf, 1024); st != 0 || len(p.names) == 0 || p.verf != first.verf {
			t.Fatalf("plus %v: resumed with the server's verifier: %d, %d names, verf %x", plus, st, len(p.names), p.verf)
		}
		if p, st := readdirPage(t, c, fh, plus, last, 0, 1024); st != 0 || len(p.names) == 0 {
			t.Fatalf("plus %v: resumed with a zero verifier: %d, %d names", plus, st, len(p.names))
		}
		if _, st := readdirPage(t, c, fh, plus, last, first.verf^1, 1024); st != nfs3ErrBadCookie {
			t.Fatalf("plus %v: resumed with another verifier: %d, want BAD_COOKIE", plus, st)
		}
	}
	// The verifier survives a restart: a client resumes where it was.
	e.restart()
	c = e.raw()
	if p, st := readdirPage(t, c, fh, false, last, first.verf, 1024); st != 0 || len(p.names) == 0 || p.names[0] != fmt.Sprintf("file-%05d", len(first.names)-2) {
		t.Fatalf("resumed after restart: %d, %q", st, p.names)
	}
}
