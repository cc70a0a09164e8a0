package gateway

import (
	"bytes"
	"context"
	"io"
	"io/fs"
	"strings"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/xdr"

	"github.com/filegate/filegate/cache"
)

func TestCreateWriteRead(t *testing.T) { forEachBackend(t, testCreateWriteRead) }

func testCreateWriteRead(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	want := bytes.Repeat([]byte("filegate "), 100_000) // 900 KB: several WRITEs
	e.writeFile("a.txt", want)
	if got := e.readFile("a.txt"); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, want %d", len(got), len(want))
	}
	a, err := e.target.Getattr("a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if a.Size() != int64(len(want)) || a.Type != nfsc.NF3Reg || a.Mode().Perm() != 0o644 {
		t.Fatalf("attrs %+v", a)
	}
	// Fileid is the inode number.
	ca, err := e.cache.Lookup(context.Background(), cache.RootIno, "a.txt")
	if err != nil {
		t.Fatal(err)
	}
	if a.Fileid != uint64(ca.Ino) || a.Nlink != 1 {
		t.Fatalf("fileid %d nlink %d, cache ino %d", a.Fileid, a.Nlink, ca.Ino)
	}

	// Reads at and past the end.
	fh := e.lookupPath("a.txt")
	data, eof, st := e.read(fh, uint64(len(want)-3), 100)
	if st != 0 || string(data) != "te " || !eof {
		t.Fatalf("tail read = %q eof %v %s", data, eof, statusName(st))
	}
	if data, eof, st = e.read(fh, uint64(len(want)+10), 100); st != 0 || len(data) != 0 || !eof {
		t.Fatalf("read past end = %q eof %v %s", data, eof, statusName(st))
	}
}

func TestAppendAndOverwrite(t *testing.T) { forEachBackend(t, testAppendAndOverwrite) }

func testAppendAndOverwrite(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("f", []byte("hello"))
	f, err := e.target.OpenFile("f", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte(", world")); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := string(e.readFile("f")); got != "hello, world" {
		t.Fatalf("after append: %q", got)
	}
	// Overwrite in the middle and write past the end, leaving a hole.
	fh := e.lookupPath("f")
	if st := e.write(fh, 0, []byte("J")); st != 0 {
		t.Fatal(statusName(st))
	}
	if st := e.write(fh, 14, []byte("!")); st != 0 {
		t.Fatal(statusName(st))
	}
	if got := string(e.readFile("f")); got != "Jello, world\x00\x00!" {
		t.Fatalf("after overwrite: %q", got)
	}
}

func TestSetattr(t *testing.T) { forEachBackend(t, testSetattr) }

func testSetattr(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("f", []byte("0123456789"))
	fh := e.lookupPath("f")
	ctx := context.Background()

	t.Run("truncate", func(t *testing.T) {
		for _, size := range []uint64{4, 0, 20} {
			if _, err := e.target.SetAttr(fh, nfsc.Sattr3{Size: nfsc.SetSize{SetIt: true, Size: size}}); err != nil {
				t.Fatalf("truncate to %d: %v", size, err)
			}
			a, st := e.getattr(fh)
			if st != 0 || a.Filesize != size {
				t.Fatalf("size %d, want %d (%s)", a.Filesize, size, statusName(st))
			}
		}
		if got := e.readFile("f"); !bytes.Equal(got, make([]byte, 20)) {
			t.Fatalf("after truncate and extend: %q", got)
		}
	})

	t.Run("chmod", func(t *testing.T) {
		if _, err := e.target.SetAttr(fh, nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: 0o600}}); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.getattr(fh); a.FileMode&0o7777 != 0o600 {
			t.Fatalf("mode %o", a.FileMode)
		}
		// setuid cannot be set over go-nfs (it masks SETATTR modes to
		// 0777), but one set otherwise is shown in the Unix bit.
		ca, _ := e.cache.Lookup(ctx, cache.RootIno, "f")
		m := fs.ModeSetuid | 0o755
		if _, err := e.cache.SetAttr(ctx, ca.Ino, cache.SetAttr{Mode: &m}); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.getattr(fh); a.FileMode&0o7777 != 0o4755 {
			t.Fatalf("mode %o, want 4755", a.FileMode&0o7777)
		}
	})

	t.Run("utimes", func(t *testing.T) {
		ca, _ := e.cache.Lookup(ctx, cache.RootIno, "f")
		mtime := time.Date(2020, 2, 3, 4, 5, 6, 7000, time.UTC)
		set := nfsc.Sattr3{Mtime: nfsc.SetTime{SetIt: nfsc.SetToClientTime,
			Time: nfsc.NFS3Time{Seconds: uint32(mtime.Unix()), Nseconds: uint32(mtime.Nanosecond())}}}
		if _, err := e.target.SetAttr(fh, set); err != nil {
			t.Fatal(err)
		}
		a, _ := e.getattr(fh)
		if got := a.ModTime(); !got.Equal(mtime) {
			t.Fatalf("mtime %v, want %v", got, mtime)
		}
		// Only mtime was asked for: the cache's atime stays.
		after, _ := e.cache.GetAttr(ctx, ca.Ino)
		if !after.Atime.Equal(ca.Atime) {
			t.Fatalf("atime changed from %v to %v", ca.Atime, after.Atime)
		}
		atime := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
		set = nfsc.Sattr3{Atime: nfsc.SetTime{SetIt: nfsc.SetToClientTime,
			Time: nfsc.NFS3Time{Seconds: uint32(atime.Unix())}}}
		if _, err := e.target.SetAttr(fh, set); err != nil {
			t.Fatal(err)
		}
		after, _ = e.cache.GetAttr(ctx, ca.Ino)
		if !after.Atime.Equal(atime) || !after.Mtime.Equal(mtime) {
			t.Fatalf("atime %v mtime %v", after.Atime, after.Mtime)
		}
	})

	t.Run("chown", func(t *testing.T) {
		set := nfsc.Sattr3{UID: nfsc.SetUID{SetIt: true, UID: 1234}, GID: nfsc.SetUID{SetIt: true, UID: 567}}
		if _, err := e.target.SetAttr(fh, set); err != nil {
			t.Fatal(err)
		}
		if a, _ := e.getattr(fh); a.UID != 1234 || a.GID != 567 {
			t.Fatalf("uid %d gid %d", a.UID, a.GID)
		}
	})
}

func TestDirectories(t *testing.T) { forEachBackend(t, testDirectories) }

func testDirectories(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	if _, err := e.target.Mkdir("d", 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := e.target.Mkdir("d", 0o750); nfsStatus(err) != nfsc.NFS3ErrExist {
		t.Fatalf("mkdir of existing dir: %v", err)
	}
	a, err := e.target.Getattr("d")
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != nfsc.NF3Dir || a.Mode().Perm() != 0o750 {
		t.Fatalf("dir attrs %+v", a)
	}
	e.writeFile("d/f", []byte("x"))

	// RMDIR of a non-empty directory fails and changes nothing.
	if err := e.target.RmDir("d"); err == nil {
		t.Fatal("rmdir of a non-empty directory succeeded")
	}
	if got := string(e.readFile("d/f")); got != "x" {
		t.Fatalf("d/f = %q after failed rmdir", got)
	}
	if err := e.target.Remove("d/f"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.target.Getattr("d/f"); nfsStatus(err) != nfsc.NFS3ErrNoEnt {
		t.Fatalf("removed file: %v", err)
	}
	if err := e.target.Remove("d/f"); nfsStatus(err) != nfsc.NFS3ErrNoEnt {
		t.Fatalf("remove of missing file: %v", err)
	}
	if err := e.target.RmDir("d"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.target.Getattr("d"); nfsStatus(err) != nfsc.NFS3ErrNoEnt {
		t.Fatalf("removed dir: %v", err)
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
	// Over an existing file.
	must(t, e.target.Rename("c", "b"))
	if got := string(e.readFile("b")); got != "A" {
		t.Fatalf("b = %q after rename over it", got)
	}
	if _, err := e.target.Getattr("c"); nfsStatus(err) != nfsc.NFS3ErrNoEnt {
		t.Fatalf("c still there: %v", err)
	}
	// Directories: into another one, and over an empty one.
	for _, d := range []string{"d1", "d2", "empty", "full"} {
		if _, err := e.target.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
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
	// Over a non-empty directory fails (go-nfs says NFS3ERR_IO).
	if err := e.target.Rename("empty", "full"); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	// Into itself fails.
	if err := e.target.Rename("full", "full/sub"); err == nil {
		t.Fatal("rename of a directory into itself succeeded")
	}
	if got := string(e.readFile("full/y")); got != "Y" {
		t.Fatalf("full/y = %q", got)
	}
}

func TestSymlink(t *testing.T) { forEachBackend(t, testSymlink) }

func testSymlink(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	e.writeFile("target", []byte("T"))
	must(t, e.target.Symlink("target", "link"))
	must(t, e.target.Symlink("/no/such/place", "dangling"))
	for link, want := range map[string]string{"link": "target", "dangling": "/no/such/place"} {
		f, err := e.target.Open(link)
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Readlink()
		if err != nil || got != want {
			t.Fatalf("readlink %s = %q, %v; want %q", link, got, err, want)
		}
		a, err := e.target.Getattr(link)
		if err != nil || a.Type != nfsc.NF3Lnk {
			t.Fatalf("getattr %s: %+v %v", link, a, err)
		}
	}
	// READLINK of a regular file.
	f, err := e.target.Open("target")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Readlink(); nfsStatus(err) != nfsc.NFS3ErrInval {
		t.Fatalf("readlink of a file: %v", err)
	}
	if err := e.target.Symlink("x", "link"); nfsStatus(err) != nfsc.NFS3ErrExist {
		t.Fatalf("symlink over existing: %v", err)
	}
}

func TestHandleSurvivesRestart(t *testing.T) { forEachBackend(t, testHandleSurvivesRestart) }

func testHandleSurvivesRestart(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	if _, err := e.target.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeFile("d/f", []byte("before restart"))
	dirFH, fileFH, rootFH := e.lookupPath("d"), e.lookupPath("d/f"), e.rootFH

	e.restart()

	if !bytes.Equal(e.rootFH, rootFH) {
		t.Fatalf("root handle changed: %x -> %x", rootFH, e.rootFH)
	}
	if a, st := e.getattr(fileFH); st != 0 || a.Filesize != 14 {
		t.Fatalf("getattr after restart: %s %+v", statusName(st), a)
	}
	if data, _, st := e.read(fileFH, 0, 100); st != 0 || string(data) != "before restart" {
		t.Fatalf("read after restart: %q %s", data, statusName(st))
	}
	if fh, st := e.lookup(dirFH, "f"); st != 0 || !bytes.Equal(fh, fileFH) {
		t.Fatalf("lookup in old dir handle: %x %s", fh, statusName(st))
	}
	if st := e.write(fileFH, 0, []byte("AFTER")); st != 0 {
		t.Fatal(statusName(st))
	}
	if got := string(e.readFile("d/f")); got != "AFTERe restart" {
		t.Fatalf("d/f = %q", got)
	}
}

func TestHandleSurvivesRename(t *testing.T) { forEachBackend(t, testHandleSurvivesRename) }

func testHandleSurvivesRename(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	for _, d := range []string{"a", "a/b", "z"} {
		if _, err := e.target.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e.writeFile("a/b/f", []byte("data"))
	fileFH, dirFH := e.lookupPath("a/b/f"), e.lookupPath("a/b")

	must(t, e.target.Rename("a", "z/renamed"))
	must(t, e.target.Rename("z/renamed/b/f", "z/renamed/b/g"))

	if data, _, st := e.read(fileFH, 0, 100); st != 0 || string(data) != "data" {
		t.Fatalf("read by handle after rename: %q %s", data, statusName(st))
	}
	if fh := e.lookupPath("z/renamed/b/g"); !bytes.Equal(fh, fileFH) {
		t.Fatalf("new path's handle %x, old %x", fh, fileFH)
	}
	if fh, st := e.lookup(dirFH, "g"); st != 0 || !bytes.Equal(fh, fileFH) {
		t.Fatalf("lookup in moved dir by old handle: %s", statusName(st))
	}
	// ".." of the moved directory is its new parent.
	if fh, st := e.lookup(dirFH, ".."); st != 0 || !bytes.Equal(fh, e.lookupPath("z/renamed")) {
		t.Fatalf("lookup .. of moved dir: %s", statusName(st))
	}
}

func TestStaleHandles(t *testing.T) { forEachBackend(t, testStaleHandles) }

func testStaleHandles(t *testing.T, backend func(*env)) {
	e := newEnv(t, backend)
	if _, err := e.target.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeFile("f", []byte("x"))
	fileFH, dirFH := e.lookupPath("f"), e.lookupPath("d")
	must(t, e.target.Remove("f"))
	must(t, e.target.RmDir("d"))

	const stale = nfsc.NFS3ErrStale
	if _, st := e.getattr(fileFH); st != stale {
		t.Fatalf("getattr of removed file: %s", statusName(st))
	}
	if _, _, st := e.read(fileFH, 0, 10); st != stale {
		t.Fatalf("read of removed file: %s", statusName(st))
	}
	if st := e.write(fileFH, 0, []byte("y")); st != stale {
		t.Fatalf("write of removed file: %s", statusName(st))
	}
	if _, st := e.lookup(dirFH, "x"); st != stale {
		t.Fatalf("lookup in removed dir: %s", statusName(st))
	}
	// A new file of the same name has a new handle; the old stays stale.
	e.writeFile("f", []byte("new"))
	if fh := e.lookupPath("f"); bytes.Equal(fh, fileFH) {
		t.Fatal("new file got the removed file's handle")
	}
	if _, st := e.getattr(fileFH); st != stale {
		t.Fatalf("getattr of removed file after re-create: %s", statusName(st))
	}

	// Handles the gateway never made.
	good := e.lookupPath("f")
	bad := map[string][]byte{
		"other export": append(append([]byte{}, good[:4]...), append([]byte{0, 0, 0, 99}, good[8:]...)...),
		"other gen":    append(append([]byte{}, good[:16]...), good[16]^1, good[17], good[18], good[19]),
		"no inode":     fileHandle{ExportID: 1, Ino: 1 << 50, Gen: 1}.marshal(),
		"short":        good[:10],
		"empty":        {},
	}
	for name, fh := range bad {
		if _, st := e.getattr(fh); st != stale {
			t.Errorf("%s: getattr = %s, want stale", name, statusName(st))
		}
	}
	if _, st := e.getattr(good); st != 0 {
		t.Fatalf("good handle: %s", statusName(st))
	}
}

func TestMount(t *testing.T) {
	e := newEnv(t)
	for _, export := range []string{"/", ""} {
		c, tg, err := dial(e.addr, export)
		if err != nil {
			t.Fatalf("mount %q: %v", export, err)
		}
		if _, fh, err := tg.Lookup("/"); err != nil || !bytes.Equal(fh, e.rootFH) {
			t.Fatalf("root of mount %q: %x %v", export, fh, err)
		}
		c.Close()
	}
	for _, export := range []string{"/other", "/a/b"} {
		c, _, err := dial(e.addr, export)
		if err == nil || !strings.Contains(err.Error(), "NOENT") {
			t.Fatalf("mount %q: %v, want MNT3ERR_NOENT", export, err)
		}
		if c != nil {
			c.Close()
		}
	}
}

func TestFSStat(t *testing.T) {
	e := newEnv(t)
	res, st := e.call(18, struct{ FH []byte }{e.rootFH})
	if st != 0 {
		t.Fatal(statusName(st))
	}
	var r struct {
		Attr                                   nfsc.PostOpAttr
		TBytes, FBytes, ABytes, TFiles, FFiles uint64
		AFiles                                 uint64
		Invarsec                               uint32
	}
	if err := xdr.Read(res, &r); err != nil {
		t.Fatal(err)
	}
	want, err := e.cache.StatFS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if r.TBytes != want.TotalBytes || r.TBytes == 0 || r.TBytes == 1<<62 || r.ABytes > r.TBytes {
		t.Fatalf("fsstat %+v, cache %+v", r, want)
	}
}

func TestClients(t *testing.T) {
	e := newEnv(t)
	cl := e.srv.Clients()
	if len(cl) != 1 || cl[0].Addr == "" || time.Since(cl[0].Since) > time.Minute {
		t.Fatalf("clients %+v", cl)
	}
	e.client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for len(e.srv.Clients()) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("clients after disconnect: %+v", e.srv.Clients())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
