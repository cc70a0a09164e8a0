package gateway

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	billy "github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/util"
	nfs "github.com/willscott/go-nfs"
	nfsfile "github.com/willscott/go-nfs/file"

	"github.com/filegate/filegate/cache"
)

func newTestFS(t *testing.T) (*fsys, *cache.Cache) {
	f, c, closeFS := newCacheFS(t, t.TempDir())
	t.Cleanup(closeFS)
	return f, c
}

func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	var pe *fs.PathError
	if !errors.As(err, &pe) {
		t.Fatalf("%s: %v, want a *fs.PathError with %v", what, err, want)
	}
	if got, _ := errnoOf(pe.Err); got != want {
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
}

func TestSymlinkResolution(t *testing.T) {
	f, _ := newTestFS(t)
	must(t, f.MkdirAll("d/e", 0o755))
	must(t, util.WriteFile(f, "x", []byte("X"), 0o644))
	links := map[string]string{
		"d/rel":   "../x",
		"d/abs":   "/x",
		"d/above": "../../../../x", // ".." stops at the export's root
		"d/e/dir": "..",            // a link to a directory, used mid-path
		"d/chain": "rel",
		"loop1":   "loop2",
		"loop2":   "loop1",
		"d/gone":  "nothing",
	}
	for l, target := range links {
		must(t, f.Symlink(target, l))
	}
	for _, p := range []string{"d/rel", "d/abs", "d/above", "d/chain", "d/e/dir/rel"} {
		fi, err := f.Stat(p)
		if err != nil || fi.Size() != 1 || !fi.Mode().IsRegular() {
			t.Fatalf("Stat(%s) = %v, %v", p, fi, err)
		}
		li, err := f.Lstat(p)
		if err != nil || li.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("Lstat(%s) = %v, %v", p, li, err)
		}
	}
	_, err := f.Stat("loop1")
	wantErrno(t, "Stat(loop1)", err, syscall.ELOOP)
	_, err = f.Stat("d/gone")
	if !os.IsNotExist(err) {
		t.Fatalf("Stat(dangling) = %v", err)
	}
	if got, err := f.Readlink("d/above"); err != nil || got != "../../../../x" {
		t.Fatalf("Readlink = %q, %v", got, err)
	}
	_, err = f.Readlink("x")
	wantErrno(t, "Readlink(file)", err, syscall.EINVAL)
}

func TestRemoveKinds(t *testing.T) {
	f, _ := newTestFS(t)
	must(t, f.MkdirAll("full/sub", 0o755))
	must(t, f.MkdirAll("empty", 0o755))
	must(t, util.WriteFile(f, "file", nil, 0o644))
	must(t, f.Remove("file"))
	must(t, f.Remove("empty"))
	wantErrno(t, "Remove(non-empty dir)", f.Remove("full"), syscall.ENOTEMPTY)
	if err := f.Remove("missing"); !os.IsNotExist(err) {
		t.Fatalf("Remove(missing) = %v", err)
	}
	// Paths go-nfs builds from a client's "." or ".." never reach the
	// cache as the parent itself.
	wantErrno(t, "Remove(full/sub/.)", f.Remove("full/sub/."), syscall.EINVAL)
	wantErrno(t, "Remove(full/sub/..)", f.Remove("full/sub/.."), syscall.EINVAL)
	wantErrno(t, "Rename(full/., x)", f.Rename("full/.", "x"), syscall.EINVAL)
	wantErrno(t, "Remove(/)", f.Remove("/"), syscall.EINVAL)
	if _, err := f.Stat("full/sub"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFlags(t *testing.T) {
	f, _ := newTestFS(t)
	must(t, util.WriteFile(f, "a", []byte("abc"), 0o600))
	_, err := f.OpenFile("a", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if !os.IsExist(err) {
		t.Fatalf("O_CREATE|O_EXCL on existing: %v", err)
	}
	// go-nfs truncates through OpenFile(O_WRONLY|O_EXCL): no O_CREATE, so
	// O_EXCL means nothing.
	fl, err := f.OpenFile("a", os.O_WRONLY|os.O_EXCL, 0)
	must(t, err)
	must(t, fl.Truncate(1))
	must(t, fl.Close())
	if b, _ := util.ReadFile(f, "a"); string(b) != "a" {
		t.Fatalf("after truncate: %q", b)
	}
	if _, err := f.OpenFile("missing", os.O_RDWR, 0); !os.IsNotExist(err) {
		t.Fatalf("open missing: %v", err)
	}
	must(t, f.MkdirAll("d", 0o755))
	_, err = f.OpenFile("d", os.O_RDWR, 0)
	wantErrno(t, "open dir for writing", err, syscall.EISDIR)
	_, err = f.OpenFile("a/b", os.O_RDWR|os.O_CREATE, 0o644)
	wantErrno(t, "create under a file", err, syscall.ENOTDIR)
	_, err = f.TempFile("", "x")
	wantErrno(t, "TempFile", err, syscall.ENOTSUP)
	_, err = f.Chroot("d")
	wantErrno(t, "Chroot", err, syscall.ENOTSUP)
	if !billy.CapabilityCheck(f, billy.WriteCapability|billy.ReadCapability|billy.SeekCapability|billy.TruncateCapability) ||
		billy.CapabilityCheck(f, billy.LockCapability) {
		t.Fatalf("capabilities %b", f.Capabilities())
	}
	// A new file takes its directory's owner.
	uid, gid := 1000, 100
	must(t, f.Lchown("d", uid, gid))
	must(t, util.WriteFile(f, "d/new", nil, 0o640))
	fi, err := f.Stat("d/new")
	must(t, err)
	if s := fi.Sys().(*nfsfile.FileInfo); s.UID != 1000 || s.GID != 100 || fi.Mode().Perm() != 0o640 {
		t.Fatalf("new file: uid %d gid %d mode %v", s.UID, s.GID, fi.Mode())
	}
}

// TestFileTypes checks the attributes go-nfs derives from Stat for every
// kind of inode.
func TestFileTypes(t *testing.T) {
	f, c := newTestFS(t)
	must(t, util.WriteFile(f, "reg", []byte("12345"), 0o644))
	must(t, f.MkdirAll("dir", 0o755))
	must(t, f.Symlink("reg", "lnk"))
	must(t, f.Mkfifo("fifo", 0o600))
	must(t, f.Socket("sock"))
	must(t, f.Mknod("blk", 0o660, 8, 1))
	must(t, f.Link("reg", "hard"))
	tests := []struct {
		name string
		typ  nfs.FileType
	}{
		{"reg", nfs.FileTypeRegular},
		{"dir", nfs.FileTypeDirectory},
		{"lnk", nfs.FileTypeLink},
		{"fifo", nfs.FileTypeFIFO},
		{"sock", nfs.FileTypeSocket},
		{"blk", nfs.FileTypeBlock},
	}
	for _, tt := range tests {
		fi, err := f.Lstat(tt.name)
		must(t, err)
		attr := nfs.ToFileAttribute(fi, tt.name)
		ca, err := c.Lookup(context.Background(), cache.RootIno, tt.name)
		must(t, err)
		if attr.Type != tt.typ || attr.Fileid != uint64(ca.Ino) || attr.Nlink != ca.Nlink {
			t.Errorf("%s: type %v fileid %d nlink %d; cache %+v", tt.name, attr.Type, attr.Fileid, attr.Nlink, ca)
		}
		if tt.typ == nfs.FileTypeBlock && attr.SpecData != [2]uint32{8, 1} {
			t.Errorf("blk: rdev %v", attr.SpecData)
		}
	}
	fi, err := f.Stat("hard")
	must(t, err)
	if a := nfs.ToFileAttribute(fi, "hard"); a.Nlink != 2 || a.Filesize != 5 {
		t.Fatalf("hard link: %+v", a)
	}
	// ReadDir's lazy entries describe the same.
	infos, err := f.ReadDir("/")
	must(t, err)
	if len(infos) != 7 {
		t.Fatalf("%d entries", len(infos))
	}
	for _, fi := range infos {
		li, err := f.Lstat(fi.Name())
		must(t, err)
		a, b := nfs.ToFileAttribute(fi, fi.Name()), nfs.ToFileAttribute(li, fi.Name())
		if *a != *b {
			t.Errorf("%s: readdir %+v, lstat %+v", fi.Name(), a, b)
		}
	}
}

// commitCounter counts Commit calls.
type commitCounter struct {
	nodes
	n atomic.Int32
}

func (c *commitCounter) Commit(ctx context.Context, ino cache.Ino) error {
	c.n.Add(1)
	return c.nodes.Commit(ctx, ino)
}

// TestCloseCommits: Close makes writes durable, and only writes.
func TestCloseCommits(t *testing.T) {
	f, _ := newTestFS(t)
	cc := &commitCounter{nodes: f.c}
	f.c = cc
	must(t, util.WriteFile(f, "a", []byte("x"), 0o644))
	if cc.n.Load() != 1 {
		t.Fatalf("%d commits after a write", cc.n.Load())
	}
	fl, err := f.Open("a")
	must(t, err)
	must(t, fl.Close())
	fl, err = f.OpenFile("a", os.O_RDWR, 0)
	must(t, err)
	must(t, fl.Close())
	if cc.n.Load() != 1 {
		t.Fatalf("%d commits after opens without writes", cc.n.Load())
	}
	fl, err = f.OpenFile("a", os.O_RDWR|os.O_TRUNC, 0)
	must(t, err)
	must(t, fl.Close())
	if cc.n.Load() != 2 {
		t.Fatalf("%d commits after O_TRUNC", cc.n.Load())
	}
}
