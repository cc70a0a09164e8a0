package gateway

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/xdr"

	"github.com/filegate/filegate/cache"
)

// dirPage is one READDIR or READDIRPLUS reply.
type dirPage struct {
	names   []string
	cookies []uint64
	sizes   []uint64 // READDIRPLUS only
	verf    uint64
	eof     bool
}

// readdirPage issues one READDIR (plus=false; count is its count) or
// READDIRPLUS (count is maxcount, dircount is an eighth of it, as Linux
// sends).
func (e *env) readdirPage(fh []byte, plus bool, cookie, verf uint64, count uint32) (dirPage, uint32) {
	e.t.Helper()
	var args any = struct {
		FH     []byte
		Cookie uint64
		Verf   uint64
		Count  uint32
	}{fh, cookie, verf, count}
	proc := uint32(16)
	if plus {
		proc = nfsc.NFSProc3ReadDirPlus
		args = struct {
			FH       []byte
			Cookie   uint64
			Verf     uint64
			DirCount uint32
			MaxCount uint32
		}{fh, cookie, verf, max(count/8, 512), count}
	}
	res, st := e.call(proc, args)
	if st != nfsc.NFS3Ok {
		return dirPage{}, st
	}
	var head struct {
		Attr nfsc.PostOpAttr
		Verf uint64
	}
	if err := xdr.Read(res, &head); err != nil {
		e.t.Fatal(err)
	}
	p := dirPage{verf: head.Verf}
	for {
		var name string
		var cookie uint64
		if plus {
			var item struct {
				IsSet bool           `xdr:"union"`
				Entry nfsc.EntryPlus `xdr:"unioncase=1"`
			}
			if err := xdr.Read(res, &item); err != nil {
				e.t.Fatal(err)
			}
			if !item.IsSet {
				break
			}
			if name = item.Entry.FileName; name != "." && name != ".." && (!item.Entry.Attr.IsSet || !item.Entry.Handle.IsSet) {
				e.t.Fatalf("readdirplus entry %q without attributes or handle", name)
			}
			cookie = item.Entry.Cookie
			p.sizes = append(p.sizes, item.Entry.Attr.Attr.Filesize)
		} else {
			var item struct {
				IsSet bool `xdr:"union"`
				Entry struct {
					FileID uint64
					Name   string
					Cookie uint64
				} `xdr:"unioncase=1"`
			}
			if err := xdr.Read(res, &item); err != nil {
				e.t.Fatal(err)
			}
			if !item.IsSet {
				break
			}
			name, cookie = item.Entry.Name, item.Entry.Cookie
		}
		p.names = append(p.names, name)
		p.cookies = append(p.cookies, cookie)
	}
	if err := xdr.Read(res, &p.eof); err != nil {
		e.t.Fatal(err)
	}
	return p, nfsc.NFS3Ok
}

// readdirAll lists fh to the end, calling between (if set) after the
// first page, and returns how often each name came and the RPC count.
func (e *env) readdirAll(fh []byte, plus bool, count uint32, between func()) (map[string]int, int) {
	e.t.Helper()
	seen := map[string]int{}
	var cookie, verf uint64
	for rpcs := 1; ; rpcs++ {
		p, st := e.readdirPage(fh, plus, cookie, verf, count)
		if st != nfsc.NFS3Ok {
			e.t.Fatalf("readdir after cookie %d: %s", cookie, statusName(st))
		}
		for i, n := range p.names {
			seen[n]++
			if n != "." && n != ".." && p.cookies[i] <= cookie {
				e.t.Fatalf("cookie %d of %q not after %d", p.cookies[i], n, cookie)
			}
			cookie = p.cookies[i]
		}
		if p.eof {
			return seen, rpcs
		}
		if len(p.names) == 0 {
			e.t.Fatalf("empty page without eof after cookie %d", cookie)
		}
		verf = p.verf
		if rpcs == 1 && between != nil {
			between()
		}
	}
}

// makeFiles creates n empty files in a new directory dir through the
// cache (faster than n CREATE RPCs; listing is what is tested).
func (e *env) makeFiles(dir string, n int) cache.Ino {
	e.t.Helper()
	ctx := context.Background()
	d, err := e.cache.Mkdir(ctx, cache.RootIno, dir, cache.NewAttr{Mode: 0o755})
	if err != nil {
		e.t.Fatal(err)
	}
	for i := range n {
		if _, err := e.cache.Create(ctx, d.Ino, fmt.Sprintf("file-%05d", i), cache.NewAttr{Mode: 0o644}); err != nil {
			e.t.Fatal(err)
		}
	}
	return d.Ino
}

// storeFiles puts n empty files in directory dir of the store before the
// cache starts, so the cache loads them in a few transactions: 10,000
// Creates, one fsync'd transaction each, take half a minute under -race.
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

func TestReaddirLarge(t *testing.T) {
	const n = 10_000
	e := newEnv(t, storeFiles("big", n))
	fh := e.lookupPath("big")

	for _, tc := range []struct {
		name  string
		plus  bool
		count uint32
	}{
		{"readdirplus go-nfs-client", true, 4096}, // 7 entries a page
		{"readdirplus linux", true, 128 << 10},
		{"readdir", false, 32 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen, rpcs := e.readdirAll(fh, tc.plus, tc.count, nil)
			if len(seen) != n+2 {
				t.Fatalf("%d names, want %d", len(seen), n+2)
			}
			for i := range n {
				if name := fmt.Sprintf("file-%05d", i); seen[name] != 1 {
					t.Fatalf("%s listed %d times", name, seen[name])
				}
			}
			if seen["."] != 1 || seen[".."] != 1 {
				t.Fatalf(". %d times, .. %d times", seen["."], seen[".."])
			}
			t.Logf("%d RPCs", rpcs)
		})
	}

	// go-nfs-client's own listing agrees.
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
	ctx := context.Background()
	seen, _ := e.readdirAll(fh, true, 4096, func() {
		for i := range 50 {
			if err := e.cache.Remove(ctx, dir, fmt.Sprintf("file-%05d", n-1-i)); err != nil {
				t.Fatal(err)
			}
			if _, err := e.cache.Create(ctx, dir, fmt.Sprintf("new-%03d", i), cache.NewAttr{Mode: 0o644}); err != nil {
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

	// A fresh listing shows the change; an old verifier with a cookie
	// into the old listing still works while that listing is kept.
	seen, _ = e.readdirAll(fh, false, 32<<10, nil)
	if seen["new-000"] != 1 || seen[fmt.Sprintf("file-%05d", n-1)] != 0 || len(seen) != n+2 {
		t.Fatalf("fresh listing: %d names", len(seen))
	}
}

// TestReaddirAttrsFresh checks that a listing served again from the
// verifier cache (same names, so same verifier) reports current sizes.
func TestReaddirAttrsFresh(t *testing.T) { forEachBackend(t, testReaddirAttrsFresh) }

func testReaddirAttrsFresh(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.makeFiles("d", 30)
	fh := e.lookupPath("d")
	sizeOf := func(name string) uint64 {
		var cookie, verf uint64
		for {
			p, st := e.readdirPage(fh, true, cookie, verf, 4096)
			if st != 0 {
				t.Fatal(statusName(st))
			}
			for i, n := range p.names {
				if n == name {
					return p.sizes[i]
				}
				cookie = p.cookies[i]
			}
			if p.eof {
				t.Fatalf("%s not listed", name)
			}
			verf = p.verf
		}
	}
	if got := sizeOf("file-00025"); got != 0 {
		t.Fatalf("size %d", got)
	}
	e.writeFile("d/file-00025", []byte("12345"))
	if got := sizeOf("file-00025"); got != 5 {
		t.Fatalf("size %d after write, want 5", got)
	}
}
