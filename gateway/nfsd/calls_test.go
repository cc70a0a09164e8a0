package nfsd

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
)

// countingNodes counts the server's calls of the cache, by method.
type countingNodes struct {
	Nodes
	mu    sync.Mutex
	calls map[string]int
}

func (n *countingNodes) count(m string) {
	n.mu.Lock()
	n.calls[m]++
	n.mu.Unlock()
}

// take returns the calls counted so far as "Method×n ..." and starts over.
func (n *countingNodes) take() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []string
	for m, k := range n.calls {
		out = append(out, fmt.Sprintf("%s×%d", m, k))
	}
	sort.Strings(out)
	n.calls = map[string]int{}
	return strings.Join(out, " ")
}

func (n *countingNodes) Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error) {
	n.count("Lookup")
	return n.Nodes.Lookup(ctx, dir, name)
}
func (n *countingNodes) GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error) {
	n.count("GetAttr")
	return n.Nodes.GetAttr(ctx, ino)
}
func (n *countingNodes) SetAttr(ctx context.Context, ino cache.Ino, set cache.SetAttr) (cache.Change, error) {
	n.count("SetAttr")
	return n.Nodes.SetAttr(ctx, ino, set)
}
func (n *countingNodes) Create(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, cache.Change, error) {
	n.count("Create")
	return n.Nodes.Create(ctx, dir, name, a)
}
func (n *countingNodes) Mkdir(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, cache.Change, error) {
	n.count("Mkdir")
	return n.Nodes.Mkdir(ctx, dir, name, a)
}
func (n *countingNodes) Symlink(ctx context.Context, dir cache.Ino, name, target string, a cache.NewAttr) (cache.Attr, cache.Change, error) {
	n.count("Symlink")
	return n.Nodes.Symlink(ctx, dir, name, target, a)
}
func (n *countingNodes) Link(ctx context.Context, ino, dir cache.Ino, name string) (cache.Attr, cache.Change, error) {
	n.count("Link")
	return n.Nodes.Link(ctx, ino, dir, name)
}
func (n *countingNodes) Remove(ctx context.Context, dir cache.Ino, name string) (cache.Change, error) {
	n.count("Remove")
	return n.Nodes.Remove(ctx, dir, name)
}
func (n *countingNodes) Rmdir(ctx context.Context, dir cache.Ino, name string) (cache.Change, error) {
	n.count("Rmdir")
	return n.Nodes.Rmdir(ctx, dir, name)
}
func (n *countingNodes) Rename(ctx context.Context, srcDir cache.Ino, srcName string, dstDir cache.Ino, dstName string) (cache.Change, cache.Change, error) {
	n.count("Rename")
	return n.Nodes.Rename(ctx, srcDir, srcName, dstDir, dstName)
}
func (n *countingNodes) Write(ctx context.Context, ino cache.Ino, p []byte, off int64, o cache.WriteOpts) (int, cache.Change, error) {
	n.count("Write")
	return n.Nodes.Write(ctx, ino, p, off, o)
}
func (n *countingNodes) Commit(ctx context.Context, ino cache.Ino) (cache.Attr, error) {
	n.count("Commit")
	return n.Nodes.Commit(ctx, ino)
}

// TestCacheCallsPerProcedure: a procedure that changes something is one
// cache call besides resolving its handles (GetAttr each), and the
// Lookups a caller other than root needs for the sticky and rename
// rules; its reply's attributes come from that call.
func TestCacheCallsPerProcedure(t *testing.T) {
	cn := &countingNodes{calls: map[string]int{}}
	e := newEnv(t, func(e *env) { e.wrap = func(n Nodes) Nodes { cn.Nodes = n; return cn } })
	c := e.raw()
	user := authUnix(1000, 1000)
	home, st := mkdir(t, c, rootCred, e.rootFH, "home", 0o777)
	if st != 0 {
		t.Fatal(st)
	}
	setuid, st := create(t, c, rootCred, home, "setuid", 0o4777)
	if st != 0 {
		t.Fatal(st)
	}
	tmp, st := mkdir(t, c, rootCred, e.rootFH, "tmp", 0o1777)
	if st != 0 {
		t.Fatal(st)
	}
	if _, st := create(t, c, user, tmp, "mine", 0o644); st != 0 {
		t.Fatal(st)
	}
	var f []byte
	cn.take()
	for _, tc := range []struct {
		name string
		call func() uint32
		want string
	}{
		{"CREATE", func() uint32 { f, st = create(t, c, user, home, "f", 0o644); return st }, "Create×1 GetAttr×1"},
		{"CREATE with owner, group and mtime", func() uint32 {
			// sattr3: mode, uid, gid, no size, atime unchanged, mtime given.
			st, _ := c.nfs(t, rootCred, 8, new(args).fh(home).name("owned").u32(createGuarded).
				u32(1).u32(0o640).u32(1).u32(7).u32(1).u32(8).u32(0).u32(0).u32(2).u32(1e9).u32(5).bytes())
			return st
		}, "Create×1 GetAttr×1"},
		{"MKDIR", func() uint32 { _, st := mkdir(t, c, user, home, "d", 0o755); return st }, "GetAttr×1 Mkdir×1"},
		{"SYMLINK", func() uint32 {
			st, _ := c.nfs(t, user, 10, new(args).fh(home).name("l").noSattr().name("f").bytes())
			return st
		}, "GetAttr×1 Symlink×1"},
		{"MKNOD", func() uint32 {
			st, _ := c.nfs(t, user, 11, new(args).fh(home).name("p").u32(nf3Fifo).modeSattr(0o644).bytes())
			return st
		}, "Create×1 GetAttr×1"},
		{"UNSTABLE WRITE", func() uint32 { st, _, _ := write(t, c, user, f, 0, unstable, []byte("abc")); return st }, "GetAttr×1 Write×1"},
		{"FILE_SYNC WRITE", func() uint32 { st, _, _ := write(t, c, user, f, 3, fileSync, []byte("def")); return st }, "GetAttr×1 Write×1"},
		{"WRITE dropping setuid", func() uint32 { st, _, _ := write(t, c, user, setuid, 0, fileSync, []byte("x")); return st }, "GetAttr×1 Write×1"},
		{"COMMIT", func() uint32 {
			st, _ := c.nfs(t, user, 21, new(args).fh(f).u64(0).u32(0).bytes())
			return st
		}, "Commit×1 GetAttr×1"},
		{"SETATTR", func() uint32 { return setattrMode(t, c, user, f, 0o600) }, "GetAttr×1 SetAttr×1"},
		{"LINK", func() uint32 {
			st, _ := c.nfs(t, user, 15, new(args).fh(f).fh(home).name("g").bytes())
			return st
		}, "GetAttr×2 Link×1"},
		{"RENAME by root", func() uint32 {
			st, _ := c.nfs(t, rootCred, 14, new(args).fh(home).name("g").fh(home).name("h").bytes())
			return st
		}, "GetAttr×2 Rename×1"},
		{"RENAME by a user", func() uint32 {
			st, _ := c.nfs(t, user, 14, new(args).fh(home).name("h").fh(home).name("i").bytes())
			return st
		}, "GetAttr×2 Lookup×2 Rename×1"},
		{"REMOVE", func() uint32 {
			st, _ := c.nfs(t, user, 12, new(args).fh(home).name("i").bytes())
			return st
		}, "GetAttr×1 Remove×1"},
		{"REMOVE in a sticky directory", func() uint32 {
			st, _ := c.nfs(t, user, 12, new(args).fh(tmp).name("mine").bytes())
			return st
		}, "GetAttr×1 Lookup×1 Remove×1"},
		{"RMDIR", func() uint32 {
			st, _ := c.nfs(t, user, 13, new(args).fh(home).name("d").bytes())
			return st
		}, "GetAttr×1 Rmdir×1"},
	} {
		if st := tc.call(); st != 0 {
			t.Fatalf("%s: status %d", tc.name, st)
		}
		if got := cn.take(); got != tc.want {
			t.Errorf("%s: cache calls %s, want %s", tc.name, got, tc.want)
		}
	}
	if a, _ := getattr(t, c, rootCred, setuid); a.mode != 0o777 {
		t.Errorf("setuid file after a user's write: mode %o", a.mode)
	}
	if a, _ := getattr(t, c, rootCred, e.lookupPath("home/owned")); a.mode != 0o640 || a.uid != 7 || a.gid != 8 || a.mtime != time.Unix(1e9, 5) {
		t.Errorf("file made with owner, group and mtime: %+v", a)
	}
}

// TestReplyAttrsMatchGetattr: the wcc_data of a WRITE and a CREATE, taken
// from the cache call alone, is what GETATTR says before and after.
func TestReplyAttrsMatchGetattr(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	e.writeFile("f", []byte("x"))
	fh := e.lookupPath("f")
	// wcc reads wcc_data: pre-op size, mtime, ctime and post-op fattr3.
	wcc := func(d *decoder) (size uint64, mtime, ctime uint64, post fattr) {
		if !d.bool() {
			t.Fatal("no pre-op attributes")
		}
		size, mtime, ctime = d.uint64(), d.uint64(), d.uint64()
		if !d.bool() {
			t.Fatal("no post-op attributes")
		}
		return size, mtime, ctime, d.fattr3()
	}
	// pack is a's size, mtime and ctime as pre_op_attr has them.
	pack := func(a fattr) (uint64, uint64, uint64) {
		tm := func(x time.Time) uint64 { return uint64(x.Unix())<<32 | uint64(x.Nanosecond()) }
		return a.size, tm(a.mtime), tm(a.ctime)
	}
	for _, how := range []uint32{unstable, fileSync} {
		before, _ := getattr(t, c, rootCred, fh)
		st, d := c.nfs(t, rootCred, 7, new(args).fh(fh).u64(1).u32(3).u32(how).opaqueData([]byte("abc")).bytes())
		if st != 0 {
			t.Fatal(st)
		}
		size, mtime, ctime, post := wcc(d)
		after, _ := getattr(t, c, rootCred, fh)
		if s, m, ct := pack(before); size != s || mtime != m || ctime != ct {
			t.Errorf("WRITE %d: pre-op %d %x %x, GETATTR before %d %x %x", how, size, mtime, ctime, s, m, ct)
		}
		if post != after || post.size != 4 {
			t.Errorf("WRITE %d: post-op %+v, GETATTR after %+v", how, post, after)
		}
	}
	before, _ := getattr(t, c, rootCred, e.rootFH)
	st, d := c.nfs(t, rootCred, 8, new(args).fh(e.rootFH).name("g").u32(createGuarded).modeSattr(0o640).bytes())
	if st != 0 || !d.bool() {
		t.Fatal(st)
	}
	gh := bytes.Clone(d.opaque(64))
	if !d.bool() {
		t.Fatal("CREATE: no attributes")
	}
	made := d.fattr3()
	size, mtime, ctime, post := wcc(d)
	if a, _ := getattr(t, c, rootCred, gh); made != a {
		t.Errorf("CREATE: attributes %+v, GETATTR %+v", made, a)
	}
	after, _ := getattr(t, c, rootCred, e.rootFH)
	if s, m, ct := pack(before); size != s || mtime != m || ctime != ct {
		t.Errorf("CREATE: directory pre-op %d %x %x, GETATTR before %d %x %x", size, mtime, ctime, s, m, ct)
	}
	if post != after {
		t.Errorf("CREATE: directory post-op %+v, GETATTR after %+v", post, after)
	}
}
