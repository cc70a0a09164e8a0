package nfsd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"

	"github.com/filegate/filegate/cache"
)

var rootCred = authUnix(0, 0)

func (e *env) raw() *rawClient { return dialRaw(e.t, e.addr) }

// getattr returns the decoded fattr3 fields the tests look at.
type fattr struct {
	typ, mode, nlink, uid, gid uint32
	size, fileid               uint64
	atime, mtime, ctime        time.Time
}

func (d *decoder) fattr3() fattr {
	var a fattr
	a.typ, a.mode, a.nlink, a.uid, a.gid = d.uint32(), d.uint32(), d.uint32(), d.uint32(), d.uint32()
	a.size = d.uint64()
	d.uint64()
	d.uint64() // rdev
	d.uint64() // fsid
	a.fileid = d.uint64()
	tm := func() time.Time { s, ns := d.uint32(), d.uint32(); return time.Unix(int64(s), int64(ns)) }
	a.atime, a.mtime, a.ctime = tm(), tm(), tm()
	return a
}

func getattr(t testing.TB, c *rawClient, cred, fh []byte) (fattr, uint32) {
	t.Helper()
	st, d := c.nfs(t, cred, 1, new(args).fh(fh).bytes())
	if st != 0 {
		return fattr{}, st
	}
	return d.fattr3(), st
}

func lookup(t testing.TB, c *rawClient, cred, dir []byte, name string) ([]byte, uint32) {
	t.Helper()
	st, d := c.nfs(t, cred, 3, new(args).fh(dir).name(name).bytes())
	if st != 0 {
		return nil, st
	}
	return bytes.Clone(d.opaque(64)), st
}

func read(t testing.TB, c *rawClient, cred, fh []byte, off uint64, n uint32) ([]byte, bool, uint32) {
	t.Helper()
	st, d := c.nfs(t, cred, 6, new(args).fh(fh).u64(off).u32(n).bytes())
	if st != 0 {
		return nil, false, st
	}
	if d.bool() {
		d.fattr3()
	}
	d.uint32()
	eof := d.bool()
	data := d.opaque(maxIO)
	if d.err != nil {
		t.Fatal("bad READ reply")
	}
	return bytes.Clone(data), eof, st
}

// write writes data at off with stability how and returns the status,
// the committed level and the verifier.
func write(t testing.TB, c *rawClient, cred, fh []byte, off uint64, how uint32, data []byte) (uint32, uint32, uint64) {
	t.Helper()
	st, d := c.nfs(t, cred, 7, new(args).fh(fh).u64(off).u32(uint32(len(data))).u32(how).opaqueData(data).bytes())
	skipWcc(d)
	if st != 0 {
		return st, 0, 0
	}
	if n := d.uint32(); n != uint32(len(data)) {
		t.Fatalf("wrote %d of %d", n, len(data))
	}
	return st, d.uint32(), d.uint64()
}

func skipWcc(d *decoder) {
	if d.bool() {
		d.uint64()
		d.uint64()
		d.uint64()
	}
	if d.bool() {
		d.fattr3()
	}
}

func TestCreateWriteRead(t *testing.T) { forEachBackend(t, testCreateWriteRead) }

func testCreateWriteRead(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	want := bytes.Repeat([]byte("filegate "), 300_000) // 2.7 MB: several WRITEs
	e.writeFile("a.txt", want)
	if got := e.readFile("a.txt"); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(want))
	}
	a, err := e.target.Getattr("a.txt")
	must(t, err)
	if a.Size() != int64(len(want)) || a.Type != nfsc.NF3Reg || a.Mode().Perm() != 0o644 {
		t.Fatalf("attrs %+v", a)
	}
	ca, err := e.cache.Lookup(context.Background(), cache.RootIno, "a.txt")
	must(t, err)
	if a.Fileid != uint64(ca.Ino) || a.Nlink != 1 || a.UID != 0 {
		t.Fatalf("fileid %d nlink %d uid %d, cache ino %d", a.Fileid, a.Nlink, a.UID, ca.Ino)
	}
	c := e.raw()
	fh := e.lookupPath("a.txt")
	data, eof, st := read(t, c, rootCred, fh, uint64(len(want)-3), 100)
	if st != 0 || string(data) != "te " || !eof {
		t.Fatalf("tail read = %q eof %v st %d", data, eof, st)
	}
	if data, eof, st = read(t, c, rootCred, fh, uint64(len(want)+10), 100); st != 0 || len(data) != 0 || !eof {
		t.Fatalf("read past end = %q eof %v st %d", data, eof, st)
	}
	// A read of more than rtmax is cut to rtmax.
	if data, eof, st = read(t, c, rootCred, fh, 0, 4<<20); st != 0 || len(data) != maxIO || eof {
		t.Fatalf("big read: %d bytes eof %v st %d", len(data), eof, st)
	}
	// Odd lengths are padded correctly: the next call still decodes.
	if data, _, st = read(t, c, rootCred, fh, 1, 5); st != 0 || string(data) != "ilega" {
		t.Fatalf("odd read %q", data)
	}
	if _, st := getattr(t, c, rootCred, fh); st != 0 {
		t.Fatal(st)
	}
}

func TestAppendAndOverwrite(t *testing.T) { forEachBackend(t, testAppendAndOverwrite) }

func testAppendAndOverwrite(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("f", []byte("hello"))
	f, err := e.target.OpenFile("f", 0o644)
	must(t, err)
	_, err = f.Seek(5, io.SeekStart)
	must(t, err)
	_, err = f.Write([]byte(", world"))
	must(t, err)
	must(t, f.Close())
	if got := string(e.readFile("f")); got != "hello, world" {
		t.Fatalf("after append: %q", got)
	}
	c, fh := e.raw(), e.lookupPath("f")
	if st, _, _ := write(t, c, rootCred, fh, 0, fileSync, []byte("J")); st != 0 {
		t.Fatal(st)
	}
	if st, _, _ := write(t, c, rootCred, fh, 14, fileSync, []byte("!")); st != 0 {
		t.Fatal(st)
	}
	if got := string(e.readFile("f")); got != "Jello, world\x00\x00!" {
		t.Fatalf("after overwrite: %q", got)
	}
}

func TestUnstableWriteAndCommit(t *testing.T) { forEachBackend(t, testUnstableWriteAndCommit) }

func testUnstableWriteAndCommit(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("f", nil)
	c, fh := e.raw(), e.lookupPath("f")
	st, how, v1 := write(t, c, rootCred, fh, 0, unstable, []byte("unstable"))
	if st != 0 || how != unstable {
		t.Fatalf("unstable write: st %d committed %d", st, how)
	}
	st, how, v2 := write(t, c, rootCred, fh, 0, dataSync, []byte("U"))
	if st != 0 || how != fileSync || v1 != v2 {
		t.Fatalf("data-sync write: st %d committed %d verf %x/%x", st, how, v1, v2)
	}
	st, d := c.nfs(t, rootCred, 21, new(args).fh(fh).u64(0).u32(0).bytes())
	skipWcc(d)
	if v := d.uint64(); st != 0 || v != v1 {
		t.Fatalf("commit: st %d verf %x, want %x", st, v, v1)
	}
	// A new server start has a new verifier: clients resend. What was
	// committed is there.
	e.restart()
	if got := string(e.readFile("f")); got != "Unstable" {
		t.Fatalf("after commit and restart: %q", got)
	}
	c, fh = e.raw(), e.lookupPath("f")
	if _, _, v3 := write(t, c, rootCred, fh, 0, unstable, []byte("x")); v3 == v1 {
		t.Fatal("write verifier unchanged across restart")
	}
}

func TestSetattr(t *testing.T) { forEachBackend(t, testSetattr) }

func testSetattr(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("f", []byte("0123456789"))
	fh := e.lookupPath("f")
	c := e.raw()
	ctx := context.Background()

	for _, size := range []uint64{4, 0, 20} {
		_, err := e.target.SetAttr(fh, nfsc.Sattr3{Size: nfsc.SetSize{SetIt: true, Size: size}})
		must(t, err)
		if a, _ := getattr(t, c, rootCred, fh); a.size != size {
			t.Fatalf("size %d, want %d", a.size, size)
		}
	}
	if got := e.readFile("f"); !bytes.Equal(got, make([]byte, 20)) {
		t.Fatalf("after truncate and extend: %q", got)
	}
	// chmod with setuid, setgid and sticky.
	_, err := e.target.SetAttr(fh, nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: 0o7750}})
	must(t, err)
	if a, _ := getattr(t, c, rootCred, fh); a.mode != 0o7750 {
		t.Fatalf("mode %o, want 7750", a.mode)
	}
	ca, _ := e.cache.Lookup(ctx, cache.RootIno, "f")
	if ca.Mode != fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky|0o750 {
		t.Fatalf("cache mode %v", ca.Mode)
	}
	// mtime alone leaves atime.
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 7000, time.UTC)
	_, err = e.target.SetAttr(fh, nfsc.Sattr3{Mtime: nfsc.SetTime{SetIt: nfsc.SetToClientTime,
		Time: nfsc.NFS3Time{Seconds: uint32(mtime.Unix()), Nseconds: uint32(mtime.Nanosecond())}}})
	must(t, err)
	after, _ := e.cache.GetAttr(ctx, ca.Ino)
	if !after.Mtime.Equal(mtime) || !after.Atime.Equal(ca.Atime) {
		t.Fatalf("mtime %v atime %v (was %v)", after.Mtime, after.Atime, ca.Atime)
	}
	if a, _ := getattr(t, c, rootCred, fh); !a.mtime.Equal(mtime) {
		t.Fatalf("GETATTR mtime %v, want %v", a.mtime, mtime)
	}
	// atime alone leaves mtime.
	atime := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err = e.target.SetAttr(fh, nfsc.Sattr3{Atime: nfsc.SetTime{SetIt: nfsc.SetToClientTime,
		Time: nfsc.NFS3Time{Seconds: uint32(atime.Unix())}}})
	must(t, err)
	after, _ = e.cache.GetAttr(ctx, ca.Ino)
	if !after.Atime.Equal(atime) || !after.Mtime.Equal(mtime) {
		t.Fatalf("atime %v mtime %v", after.Atime, after.Mtime)
	}
	// chown by root; it drops setuid (and setgid, group-executable).
	_, err = e.target.SetAttr(fh, nfsc.Sattr3{UID: nfsc.SetUID{SetIt: true, UID: 1234}, GID: nfsc.SetUID{SetIt: true, UID: 567}})
	must(t, err)
	a, _ := getattr(t, c, rootCred, fh)
	if a.uid != 1234 || a.gid != 567 || a.mode != 0o1750 {
		t.Fatalf("uid %d gid %d mode %o", a.uid, a.gid, a.mode)
	}
	// The guard: a ctime that is not the file's is NOT_SYNC.
	st, _ := c.nfs(t, rootCred, 2, new(args).fh(fh).modeSattr(0o600).u32(1).u32(1).u32(2).bytes())
	if st != nfs3ErrNotSync {
		t.Fatalf("guarded setattr with a wrong ctime: %d", st)
	}
	st, _ = c.nfs(t, rootCred, 2, new(args).fh(fh).modeSattr(0o600).u32(1).u32(uint32(a.ctime.Unix())).u32(uint32(a.ctime.Nanosecond())).bytes())
	if st != 0 {
		t.Fatalf("guarded setattr with the right ctime: %d", st)
	}
}

func TestDirectories(t *testing.T) { forEachBackend(t, testDirectories) }

func testDirectories(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	_, err := e.target.Mkdir("d", 0o750)
	must(t, err)
	if _, err := e.target.Mkdir("d", 0o750); nfsStatus(err) != nfs3ErrExist {
		t.Fatalf("mkdir of existing dir: %v", err)
	}
	a, err := e.target.Getattr("d")
	must(t, err)
	if a.Type != nfsc.NF3Dir || a.Mode().Perm() != 0o750 {
		t.Fatalf("dir attrs %+v", a)
	}
	e.writeFile("d/f", []byte("x"))
	if err := e.target.RmDir("d"); nfsStatus(err) != nfs3ErrNotEmpty {
		t.Fatalf("rmdir of a non-empty directory: %v", err)
	}
	if got := string(e.readFile("d/f")); got != "x" {
		t.Fatalf("d/f = %q after failed rmdir", got)
	}
	c := e.raw()
	// REMOVE of a directory and RMDIR of a file fail with the right status.
	if st, _ := c.nfs(t, rootCred, 12, new(args).fh(e.rootFH).name("d").bytes()); st != nfs3ErrIsDir {
		t.Fatalf("remove of a directory: %d", st)
	}
	if st, _ := c.nfs(t, rootCred, 13, new(args).fh(e.lookupPath("d")).name("f").bytes()); st != nfs3ErrNotDir {
		t.Fatalf("rmdir of a file: %d", st)
	}
	// Data calls on a directory, directory calls on a file.
	dfh, ffh := e.lookupPath("d"), e.lookupPath("d/f")
	if _, _, st := read(t, c, rootCred, dfh, 0, 10); st != nfs3ErrIsDir {
		t.Fatalf("read of a directory: %d", st)
	}
	if st, _, _ := write(t, c, rootCred, dfh, 0, fileSync, []byte("x")); st != nfs3ErrIsDir {
		t.Fatalf("write of a directory: %d", st)
	}
	if _, st := create(t, c, rootCred, ffh, "g", 0o644); st != nfs3ErrNotDir {
		t.Fatalf("create in a file: %d", st)
	}
	if _, st := lookup(t, c, rootCred, ffh, "g"); st != nfs3ErrNotDir {
		t.Fatalf("lookup in a file: %d", st)
	}
	must(t, e.target.Remove("d/f"))
	if _, err := e.target.Getattr("d/f"); nfsStatus(err) != nfs3ErrNoEnt {
		t.Fatalf("removed file: %v", err)
	}
	if err := e.target.Remove("d/f"); nfsStatus(err) != nfs3ErrNoEnt {
		t.Fatalf("remove of missing file: %v", err)
	}
	// "." and ".." of the now empty d name no entry of it: removing or
	// renaming them is refused and leaves d (and the root) alone.
	for _, tc := range []struct {
		what string
		proc uint32
		args *args
	}{
		{"remove .", 12, new(args).fh(dfh).name(".")},
		{"rmdir .", 13, new(args).fh(dfh).name(".")},
		{"rmdir ..", 13, new(args).fh(dfh).name("..")},
		{"rename .", 14, new(args).fh(dfh).name(".").fh(e.rootFH).name("moved")},
		{"rename ..", 14, new(args).fh(dfh).name("..").fh(e.rootFH).name("moved")},
	} {
		if st, _ := c.nfs(t, rootCred, tc.proc, tc.args.bytes()); st == 0 {
			t.Errorf("%s succeeded", tc.what)
		}
	}
	if _, st := getattr(t, c, rootCred, dfh); st != 0 {
		t.Fatalf("d after removing its . and ..: %d", st)
	}
	if _, st := lookup(t, c, rootCred, e.rootFH, "moved"); st != nfs3ErrNoEnt {
		t.Fatalf("lookup moved: %d", st)
	}
	must(t, e.target.RmDir("d"))
	if _, err := e.target.Getattr("d"); nfsStatus(err) != nfs3ErrNoEnt {
		t.Fatalf("removed dir: %v", err)
	}
	long := strings.Repeat("n", 256)
	if st, _ := c.nfs(t, rootCred, 9, new(args).fh(e.rootFH).name(long).noSattr().bytes()); st != nfs3ErrNameTooLong {
		t.Fatalf("mkdir of a 256-byte name: %d", st)
	}
}

func TestRename(t *testing.T) { forEachBackend(t, testRename) }

func testRename(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("a", []byte("A"))
	e.writeFile("b", []byte("B"))
	must(t, e.target.Rename("a", "c"))
	if got := string(e.readFile("c")); got != "A" {
		t.Fatalf("c = %q", got)
	}
	must(t, e.target.Rename("c", "b"))
	if got := string(e.readFile("b")); got != "A" {
		t.Fatalf("b = %q after rename over it", got)
	}
	if _, err := e.target.Getattr("c"); nfsStatus(err) != nfs3ErrNoEnt {
		t.Fatalf("c still there: %v", err)
	}
	for _, d := range []string{"d1", "d2", "empty", "full"} {
		_, err := e.target.Mkdir(d, 0o755)
		must(t, err)
	}
	e.writeFile("d1/x", []byte("X"))
	e.writeFile("full/y", []byte("Y"))
	must(t, e.target.Rename("d1", "d2/d1"))
	if got := string(e.readFile("d2/d1/x")); got != "X" {
		t.Fatalf("d2/d1/x = %q", got)
	}
	must(t, e.target.Rename("d2/d1", "empty"))
	if got := string(e.readFile("empty/x")); got != "X" {
		t.Fatalf("empty/x = %q", got)
	}
	if err := e.target.Rename("empty", "full"); nfsStatus(err) != nfs3ErrNotEmpty {
		t.Fatalf("rename over a non-empty directory: %v", err)
	}
	if err := e.target.Rename("full", "full/sub"); nfsStatus(err) != nfs3ErrInval {
		t.Fatalf("rename of a directory into itself: %v", err)
	}
	if err := e.target.Rename("b", "full"); nfsStatus(err) != nfs3ErrIsDir {
		t.Fatalf("rename of a file over a directory: %v", err)
	}
	if got := string(e.readFile("full/y")); got != "Y" {
		t.Fatalf("full/y = %q", got)
	}
}

func TestSymlinkAndLink(t *testing.T) { forEachBackend(t, testSymlinkAndLink) }

func testSymlinkAndLink(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("target", []byte("T"))
	must(t, e.target.Symlink("target", "link"))
	must(t, e.target.Symlink("/no/such/place", "dangling"))
	for link, want := range map[string]string{"link": "target", "dangling": "/no/such/place"} {
		f, err := e.target.Open(link)
		must(t, err)
		if got, err := f.Readlink(); err != nil || got != want {
			t.Fatalf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
		if a, err := e.target.Getattr(link); err != nil || a.Type != nfsc.NF3Lnk || a.Size() != int64(len(want)) {
			t.Fatalf("getattr %s: %+v %v", link, a, err)
		}
	}
	f, err := e.target.Open("target")
	must(t, err)
	if _, err := f.Readlink(); nfsStatus(err) != nfs3ErrInval {
		t.Fatalf("readlink of a file: %v", err)
	}
	if err := e.target.Symlink("x", "link"); nfsStatus(err) != nfs3ErrExist {
		t.Fatalf("symlink over existing: %v", err)
	}
	// LINK: file handle, then the directory and the new name.
	c := e.raw()
	fh := e.lookupPath("target")
	st, d := c.nfs(t, rootCred, 15, new(args).fh(fh).fh(e.rootFH).name("hard").bytes())
	if st != 0 {
		t.Fatalf("link: %d", st)
	}
	if !d.bool() || d.fattr3().nlink != 2 {
		t.Fatal("link: no attributes or nlink != 2")
	}
	if got := string(e.readFile("hard")); got != "T" {
		t.Fatalf("hard = %q", got)
	}
	if st, _ := c.nfs(t, rootCred, 15, new(args).fh(fh).fh(e.rootFH).name("hard").bytes()); st != nfs3ErrExist {
		t.Fatalf("link over existing: %d", st)
	}
	if st, _ := c.nfs(t, rootCred, 15, new(args).fh(e.rootFH).fh(e.rootFH).name("dirlink").bytes()); st != nfs3ErrIsDir {
		t.Fatalf("link of a directory: %d", st)
	}
}

func TestMknod(t *testing.T) { forEachBackend(t, testMknod) }

func testMknod(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	c := e.raw()
	for _, tc := range []struct {
		name string
		typ  uint32
		dev  bool
	}{{"fifo", nf3Fifo, false}, {"sock", nf3Sock, false}, {"chr", nf3Chr, true}, {"blk", nf3Blk, true}} {
		a := new(args).fh(e.rootFH).name(tc.name).u32(tc.typ).modeSattr(0o640)
		if tc.dev {
			a.u32(5).u32(7)
		}
		if st, _ := c.nfs(t, rootCred, 11, a.bytes()); st != 0 {
			t.Fatalf("mknod %s: %d", tc.name, st)
		}
		fh, _ := lookup(t, c, rootCred, e.rootFH, tc.name)
		at, st := getattr(t, c, rootCred, fh)
		if st != 0 || at.typ != tc.typ || at.mode != 0o640 {
			t.Fatalf("%s: type %d mode %o st %d", tc.name, at.typ, at.mode, st)
		}
	}
	ca, _ := e.cache.Lookup(context.Background(), cache.RootIno, "chr")
	if ca.Major != 5 || ca.Minor != 7 {
		t.Fatalf("chr device %d,%d", ca.Major, ca.Minor)
	}
	if st, _ := c.nfs(t, rootCred, 11, new(args).fh(e.rootFH).name("r").u32(nf3Reg).bytes()); st != nfs3ErrBadType {
		t.Fatalf("mknod of a regular file: %d", st)
	}
	if st, _ := c.nfs(t, authUnix(1000, 1000), 11, new(args).fh(e.rootFH).name("c2").u32(nf3Chr).noSattr().u32(1).u32(1).bytes()); st != nfs3ErrAcces && st != nfs3ErrPerm {
		t.Fatalf("mknod of a device by a user: %d", st)
	}
}

func TestExclusiveCreate(t *testing.T) { forEachBackend(t, testExclusiveCreate) }

func testExclusiveCreate(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	c := e.raw()
	verf := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	mk := func(v []byte) uint32 {
		a := new(args).fh(e.rootFH).name("x").u32(createExclusive)
		a.fixed(v)
		st, _ := c.nfs(t, rootCred, 8, a.bytes())
		return st
	}
	if st := mk(verf); st != 0 {
		t.Fatalf("exclusive create: %d", st)
	}
	if st := mk(verf); st != 0 {
		t.Fatalf("retransmitted exclusive create: %d", st)
	}
	if st := mk([]byte{9, 9, 9, 9, 9, 9, 9, 9}); st != nfs3ErrExist {
		t.Fatalf("exclusive create with another verifier: %d", st)
	}
	// GUARDED fails on an existing name, UNCHECKED truncates when asked.
	e.writeFile("y", []byte("content"))
	if st, _ := c.nfs(t, rootCred, 8, new(args).fh(e.rootFH).name("y").u32(createGuarded).noSattr().bytes()); st != nfs3ErrExist {
		t.Fatalf("guarded create over existing: %d", st)
	}
	sizeZero := new(args).fh(e.rootFH).name("y").u32(createUnchecked).u32(0).u32(0).u32(0).u32(1).u64(0).u32(0).u32(0)
	if st, _ := c.nfs(t, rootCred, 8, sizeZero.bytes()); st != 0 {
		t.Fatalf("unchecked create over existing: %d", st)
	}
	if got := e.readFile("y"); len(got) != 0 {
		t.Fatalf("y = %q after unchecked create with size 0", got)
	}
}

func TestHandleSurvivesRestart(t *testing.T) { forEachBackend(t, testHandleSurvivesRestart) }

func testHandleSurvivesRestart(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	_, err := e.target.Mkdir("d", 0o755)
	must(t, err)
	e.writeFile("d/f", []byte("before restart"))
	dirFH, fileFH, rootFH := e.lookupPath("d"), e.lookupPath("d/f"), e.rootFH
	e.restart()
	if !bytes.Equal(e.rootFH, rootFH) {
		t.Fatalf("root handle changed: %x -> %x", rootFH, e.rootFH)
	}
	c := e.raw()
	if a, st := getattr(t, c, rootCred, fileFH); st != 0 || a.size != 14 {
		t.Fatalf("getattr after restart: %d %+v", st, a)
	}
	if data, _, st := read(t, c, rootCred, fileFH, 0, 100); st != 0 || string(data) != "before restart" {
		t.Fatalf("read after restart: %q %d", data, st)
	}
	if fh, st := lookup(t, c, rootCred, dirFH, "f"); st != 0 || !bytes.Equal(fh, fileFH) {
		t.Fatalf("lookup in old dir handle: %x %d", fh, st)
	}
	if st, _, _ := write(t, c, rootCred, fileFH, 0, fileSync, []byte("AFTER")); st != 0 {
		t.Fatalf("write after restart: %d", st)
	}
	if got := string(e.readFile("d/f")); got != "AFTERe restart" {
		t.Fatalf("d/f = %q", got)
	}
}

func TestHandleSurvivesRename(t *testing.T) { forEachBackend(t, testHandleSurvivesRename) }

func testHandleSurvivesRename(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	for _, d := range []string{"a", "a/b", "z"} {
		_, err := e.target.Mkdir(d, 0o755)
		must(t, err)
	}
	e.writeFile("a/b/f", []byte("data"))
	fileFH, dirFH := e.lookupPath("a/b/f"), e.lookupPath("a/b")
	must(t, e.target.Rename("a", "z/renamed"))
	must(t, e.target.Rename("z/renamed/b/f", "z/renamed/b/g"))
	c := e.raw()
	if data, _, st := read(t, c, rootCred, fileFH, 0, 100); st != 0 || string(data) != "data" {
		t.Fatalf("read by handle after rename: %q %d", data, st)
	}
	if fh := e.lookupPath("z/renamed/b/g"); !bytes.Equal(fh, fileFH) {
		t.Fatalf("new path's handle %x, old %x", fh, fileFH)
	}
	if fh, st := lookup(t, c, rootCred, dirFH, "g"); st != 0 || !bytes.Equal(fh, fileFH) {
		t.Fatalf("lookup in moved dir by old handle: %d", st)
	}
	if fh, st := lookup(t, c, rootCred, dirFH, ".."); st != 0 || !bytes.Equal(fh, e.lookupPath("z/renamed")) {
		t.Fatalf("lookup .. of moved dir: %d", st)
	}
	if fh, st := lookup(t, c, rootCred, e.rootFH, ".."); st != 0 || !bytes.Equal(fh, e.rootFH) {
		t.Fatalf("lookup .. of the root: %d", st)
	}
}

func TestStaleAndBadHandles(t *testing.T) { forEachBackend(t, testStaleAndBadHandles) }

func testStaleAndBadHandles(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	_, err := e.target.Mkdir("d", 0o755)
	must(t, err)
	e.writeFile("f", []byte("x"))
	fileFH, dirFH := e.lookupPath("f"), e.lookupPath("d")
	must(t, e.target.Remove("f"))
	must(t, e.target.RmDir("d"))
	c := e.raw()
	if _, st := getattr(t, c, rootCred, fileFH); st != nfs3ErrStale {
		t.Fatalf("getattr of removed file: %d", st)
	}
	if _, _, st := read(t, c, rootCred, fileFH, 0, 10); st != nfs3ErrStale {
		t.Fatalf("read of removed file: %d", st)
	}
	if st, _, _ := write(t, c, rootCred, fileFH, 0, fileSync, []byte("y")); st != nfs3ErrStale {
		t.Fatalf("write of removed file: %d", st)
	}
	if _, st := lookup(t, c, rootCred, dirFH, "x"); st != nfs3ErrStale {
		t.Fatalf("lookup in removed dir: %d", st)
	}
	// A new file of the same name has a new handle; the old stays stale.
	e.writeFile("f", []byte("new"))
	good := e.lookupPath("f")
	if bytes.Equal(good, fileFH) {
		t.Fatal("new file got the removed file's handle")
	}
	if _, st := getattr(t, c, rootCred, fileFH); st != nfs3ErrStale {
		t.Fatalf("getattr of removed file after re-create: %d", st)
	}
	otherExport := bytes.Clone(good)
	otherExport[7] = 99
	otherGen := bytes.Clone(good)
	otherGen[19] ^= 1
	for name, tc := range map[string]struct {
		fh []byte
		st uint32
	}{
		"other export": {otherExport, nfs3ErrStale},
		"other gen":    {otherGen, nfs3ErrStale},
		"no inode":     {fileHandle{ExportID: 1, Ino: 1 << 50, Gen: 1}.append(nil), nfs3ErrStale},
		"short":        {good[:10], nfs3ErrBadHandle},
		"empty":        {nil, nfs3ErrBadHandle},
		"version 2":    {append([]byte{2}, good[1:]...), nfs3ErrBadHandle},
	} {
		if _, st := getattr(t, c, rootCred, tc.fh); st != tc.st {
			t.Errorf("%s: getattr = %d, want %d", name, st, tc.st)
		}
	}
	if _, st := getattr(t, c, rootCred, good); st != 0 {
		t.Fatalf("good handle: %d", st)
	}
}

func TestMountProgram(t *testing.T) {
	e := newEnv(t)
	for _, export := range []string{"/", ""} {
		c, tg, err := dial(e.addr, export, rootCredAuth())
		if err != nil {
			t.Fatalf("mount %q: %v", export, err)
		}
		if _, fh, err := tg.Lookup("/"); err != nil || !bytes.Equal(fh, e.rootFH) {
			t.Fatalf("root of mount %q: %x %v", export, fh, err)
		}
		c.Close()
	}
	if _, _, err := dial(e.addr, "/other", rootCredAuth()); err == nil || !strings.Contains(err.Error(), "NOENT") {
		t.Fatalf("mount /other: %v", err)
	}
	c := e.raw()
	r := c.call(t, progMount, 3, 5, nil, nil) // EXPORT
	if r.accept != 0 || !r.d.bool() || r.d.string(100) != "/" || r.d.bool() || r.d.bool() {
		t.Fatalf("export list: accept %d", r.accept)
	}
	r = c.call(t, progMount, 3, 2, nil, nil) // DUMP: the mounts above
	if r.accept != 0 || !r.d.bool() || r.d.string(100) != "127.0.0.1" {
		t.Fatalf("dump: accept %d", r.accept)
	}
	// The portmapper on the same port finds NFS and MOUNT.
	r = c.call(t, progPortmap, 2, 3, nil, new(args).u32(progMount).u32(3).u32(6).u32(0).bytes())
	if p := r.d.uint32(); r.accept != 0 || int(p) != e.addr.Port {
		t.Fatalf("getport MOUNT: %d accept %d", p, r.accept)
	}
}

func TestFSStatFSInfoPathconf(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	st, d := c.nfs(t, rootCred, 18, new(args).fh(e.rootFH).bytes())
	if st != 0 || !d.bool() {
		t.Fatal(st)
	}
	d.fattr3()
	tb, _, ab := d.uint64(), d.uint64(), d.uint64()
	want, err := e.cache.StatFS(context.Background())
	must(t, err)
	if tb != want.TotalBytes || tb == 0 || ab > tb {
		t.Fatalf("fsstat total %d avail %d, cache %+v", tb, ab, want)
	}
	st, d = c.nfs(t, rootCred, 19, new(args).fh(e.rootFH).bytes())
	if st != 0 || !d.bool() {
		t.Fatal(st)
	}
	d.fattr3()
	if rtmax := d.uint32(); rtmax != maxIO {
		t.Fatalf("rtmax %d", rtmax)
	}
	st, _ = c.nfs(t, rootCred, 20, new(args).fh(e.rootFH).bytes())
	if st != 0 {
		t.Fatal(st)
	}
}

func rootCredAuth() rpcAuth { return rpcAuth{Flavor: 1, Body: rootCred} }

// TestPipelinedCreates sends many CREATEs on one connection without
// waiting: they run concurrently and every reply finds its caller.
func TestPipelinedCreates(t *testing.T) {
	e := newEnv(t)
	_, err := e.target.Mkdir("d", 0o755)
	must(t, err)
	dir := e.lookupPath("d")
	c := e.raw()
	const n = 300
	var pending []<-chan []byte
	for i := range n {
		a := new(args).fh(dir).name(fmt.Sprintf("f%03d", i)).u32(createGuarded).noSattr()
		ch, err := c.start(progNFS, 3, 8, rootCred, a.bytes())
		must(t, err)
		pending = append(pending, ch)
	}
	for _, ch := range pending {
		r := waitReply(t, ch)
		if st := r.d.uint32(); st != 0 {
			t.Fatalf("create: %d", st)
		}
	}
	seen, _ := listAll(t, c, dir, false, 8192, nil)
	if len(seen) != n+2 {
		t.Fatalf("%d entries", len(seen))
	}
}

// TestBadNames: a name that is no single directory entry (a slash, a
// NUL, empty, "." or "..") makes nothing, whichever procedure brings it;
// LOOKUP of "." and ".." finds the directory and its parent.
func TestBadNames(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	e.writeFile("f", nil)
	f := e.lookupPath("f")
	for _, n := range []string{"a/b", "a\x00b", "", ".", ".."} {
		for _, tc := range []struct {
			what string
			proc uint32
			args *args
		}{
			{"create", 8, new(args).fh(e.rootFH).name(n).u32(createGuarded).noSattr()},
			{"mkdir", 9, new(args).fh(e.rootFH).name(n).noSattr()},
			{"symlink", 10, new(args).fh(e.rootFH).name(n).noSattr().name("f")},
			{"mknod", 11, new(args).fh(e.rootFH).name(n).u32(nf3Fifo).noSattr()},
			{"rename", 14, new(args).fh(e.rootFH).name("f").fh(e.rootFH).name(n)},
			{"link", 15, new(args).fh(f).fh(e.rootFH).name(n)},
		} {
			if st, _ := c.nfs(t, rootCred, tc.proc, tc.args.bytes()); st == 0 {
				t.Errorf("%s %q succeeded", tc.what, n)
			}
		}
		if _, st := lookup(t, c, rootCred, e.rootFH, n); (st == 0) != (n == "." || n == "..") {
			t.Errorf("lookup %q: %d", n, st)
		}
	}
	if seen, _ := listAll(t, c, e.rootFH, false, 4096, nil); len(seen) != 3 || seen["f"] != 1 {
		t.Fatalf("root after bad names: %v", seen)
	}
}
