package nfsd

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

// newCache opens a cache over a posix store, both in temporary folders,
// closed at the end of the test (after the server).
func newCache(t *testing.T) *cache.Cache {
	t.Helper()
	cc := cache.DefaultConfig()
	cc.Dir, cc.Store, cc.Logger = t.TempDir(), testutil.PosixStore(t), testutil.Logger()
	c, err := cache.New(context.Background(), cc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("cache close: %v", err)
		}
	})
	return c
}

// Two exports over two caches: each MNT gives its own root, files of one
// are not in the other, a handle of one is STALE in the other, and MOUNT
// EXPORT lists both.
func TestSeveralExports(t *testing.T) {
	office, projects := newCache(t), newCache(t)
	cfg := DefaultConfig()
	cfg.Logger = testutil.Logger()
	x1 := Export{Name: "/office", ID: 7, Squash: SquashNone, AnonUID: 65534, AnonGID: 65534}
	x2 := Export{Name: "/projects", ID: 8, Squash: SquashNone, AnonUID: 65534, AnonGID: 65534, ReadOnly: true}
	srv, err := NewExports(cfg, []Mount{{x1, office}, {x2, projects}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().(*net.TCPAddr)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	mount := func(name string) (*rpc.Client, *nfsc.Target) {
		t.Helper()
		c, tg, err := dial(addr, name, rpc.NewAuthUnix("test", 0, 0).Auth())
		if err != nil {
			t.Fatalf("mount %s: %v", name, err)
		}
		t.Cleanup(func() { c.Close() })
		return c, tg
	}
	_, to := mount("/office")
	_, tp := mount("/projects")
	_, rootO, err := to.Lookup("/")
	must(t, err)
	_, rootP, err := tp.Lookup("/")
	must(t, err)
	if bytes.Equal(rootO, rootP) {
		t.Fatalf("both exports have root handle %x", rootO)
	}
	if _, _, err := dial(addr, "/", rootCredAuth()); err == nil || !strings.Contains(err.Error(), "NOENT") {
		t.Fatalf("mount /: %v", err)
	}

	f, err := to.OpenFile("memo.txt", 0o644)
	must(t, err)
	_, err = f.Write([]byte("office only"))
	must(t, err)
	must(t, f.Close())
	if _, _, err := tp.Lookup("memo.txt"); err == nil {
		t.Fatal("memo.txt of /office found in /projects")
	}
	if _, err := office.Lookup(context.Background(), cache.RootIno, "memo.txt"); err != nil {
		t.Fatalf("memo.txt not in the office cache: %v", err)
	}
	if _, err := projects.Lookup(context.Background(), cache.RootIno, "memo.txt"); err == nil {
		t.Fatal("memo.txt in the projects cache")
	}
	// /projects is read-only: its policy is its own.
	if _, err := tp.OpenFile("x", 0o644); err == nil || !strings.Contains(err.Error(), "ROFS") {
		t.Fatalf("create in read-only /projects: %v", err)
	}
	// A folder below an export mounts that export.
	_, err = to.Mkdir("dir", 0o755)
	must(t, err)
	_, td := mount("/office/dir")
	_, dirFH, err := td.Lookup("/")
	must(t, err)
	if got := getHandle(t, to, "dir"); !bytes.Equal(got, dirFH) {
		t.Fatalf("root of /office/dir %x, want %x", dirFH, got)
	}

	c := dialRaw(t, addr)
	defer c.close()
	memo := getHandle(t, to, "memo.txt")
	if _, st := getattr(t, c, rootCred, memo); st != nfs3OK {
		t.Fatalf("getattr memo.txt: %d", st)
	}
	// The same inode number with the other export's id is STALE, as is
	// the root of /office as /projects' (and the reverse).
	moved := bytes.Clone(memo)
	moved[7] = 8
	for name, fh := range map[string][]byte{"memo as /projects": moved,
		"unknown export": fileHandle{ExportID: 9, Ino: 1, Gen: 1}.append(nil)} {
		if _, st := getattr(t, c, rootCred, fh); st != nfs3ErrStale {
			t.Errorf("%s: getattr = %d, want STALE", name, st)
		}
	}
	// A LOOKUP in /projects' root of a name of /office finds nothing.
	if _, st := lookup(t, c, rootCred, rootP, "memo.txt"); st != nfs3ErrNoEnt {
		t.Errorf("lookup memo.txt in /projects: %d", st)
	}
	// RENAME or LINK from one export to the other is XDEV, as between
	// two file systems (mv then copies), and the file stays where it was.
	if st, _ := c.nfs(t, rootCred, 14, new(args).fh(rootO).name("memo.txt").fh(rootP).name("memo.txt").bytes()); st != nfs3ErrXDev {
		t.Errorf("rename across exports = %d, want XDEV", st)
	}
	if st, _ := c.nfs(t, rootCred, 15, new(args).fh(memo).fh(rootP).name("memo.txt").bytes()); st != nfs3ErrXDev {
		t.Errorf("link across exports = %d, want XDEV", st)
	}
	if _, st := getattr(t, c, rootCred, memo); st != nfs3OK {
		t.Errorf("memo.txt after the refused rename: %d", st)
	}
	// A second handle of an export this server does not have is STALE.
	if st, _ := c.nfs(t, rootCred, 14, new(args).fh(rootO).name("memo.txt").fh(fileHandle{ExportID: 9, Ino: 1, Gen: 1}.append(nil)).name("memo.txt").bytes()); st != nfs3ErrStale {
		t.Errorf("rename into an unknown export = %d, want STALE", st)
	}

	r := c.call(t, progMount, 3, 5, nil, nil) // EXPORT
	var names []string
	for r.accept == 0 && r.d.bool() {
		names = append(names, r.d.string(100))
		for r.d.bool() {
			r.d.string(100)
		}
	}
	if r.accept != 0 || r.d.err != nil || strings.Join(names, ",") != "/office,/projects" {
		t.Fatalf("export list: %q accept %d err %v", names, r.accept, r.d.err)
	}
}

func getHandle(t *testing.T, tg *nfsc.Target, p string) []byte {
	t.Helper()
	_, fh, err := tg.Lookup(p)
	if err != nil {
		t.Fatalf("lookup %s: %v", p, err)
	}
	return fh
}

func TestNewExportsRefuses(t *testing.T) {
	cfg := DefaultConfig()
	x := Export{Name: "/a", ID: 1}
	for name, mounts := range map[string][]Mount{
		"none":      nil,
		"same name": {{x, stubNodes{}}, {Export{Name: "/a", ID: 2}, stubNodes{}}},
		"same id":   {{x, stubNodes{}}, {Export{Name: "/b", ID: 1}, stubNodes{}}},
		"unclean":   {{x, stubNodes{}}, {Export{Name: "/b/", ID: 2}, stubNodes{}}},
		"no cache":  {{x, nil}},
	} {
		if _, err := NewExports(cfg, mounts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
