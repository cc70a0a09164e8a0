package cache

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/memstore"
)

// sameAttr reports whether a and b are the same attributes, times
// compared as instants.
func sameAttr(a, b Attr) bool {
	if !a.Atime.Equal(b.Atime) || !a.Mtime.Equal(b.Mtime) || !a.Ctime.Equal(b.Ctime) {
		return false
	}
	a.Atime, a.Mtime, a.Ctime = time.Time{}, time.Time{}, time.Time{}
	b.Atime, b.Mtime, b.Ctime = time.Time{}, time.Time{}, time.Time{}
	return a == b
}

// TestChangesMatchGetAttr: every call that changes something returns the
// attributes a GetAttr just before it returned, and those a GetAttr just
// after it returns, so NFS can answer from them alone.
func TestChangesMatchGetAttr(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), memstore.New())
	attr := func(ino Ino) Attr {
		t.Helper()
		a, err := c.GetAttr(ctx, ino)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	// check compares ch with before and with the attributes of ino now.
	check := func(what string, ino Ino, before Attr, ch Change, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !sameAttr(ch.Before, before) {
			t.Errorf("%s: before %+v, GetAttr before it %+v", what, ch.Before, before)
		}
		if now := attr(ino); !sameAttr(ch.After, now) {
			t.Errorf("%s: after %+v, GetAttr after it %+v", what, ch.After, now)
		}
	}
	checkNew := func(what string, a Attr) {
		t.Helper()
		if now := attr(a.Ino); !sameAttr(a, now) {
			t.Errorf("%s: new inode %+v, GetAttr %+v", what, a, now)
		}
	}

	mt := time.Date(2001, 2, 3, 4, 5, 6, 7, time.UTC)
	at := time.Date(2002, 3, 4, 5, 6, 7, 8, time.UTC)
	root := attr(RootIno)
	d, ch, err := c.Mkdir(ctx, RootIno, "d", NewAttr{Mode: 0o750, UID: 5, Atime: at, Mtime: mt})
	check("mkdir", RootIno, root, ch, err)
	checkNew("mkdir", d)
	if ch.After.Nlink != root.Nlink+1 || d.UID != 5 || !d.Mtime.Equal(mt) || !d.Atime.Equal(at) {
		t.Errorf("mkdir: parent %+v, new %+v", ch.After, d)
	}

	before := attr(d.Ino)
	f, ch, err := c.Create(ctx, d.Ino, "f", NewAttr{Mode: 0o644})
	check("create", d.Ino, before, ch, err)
	checkNew("create", f)

	before = attr(d.Ino)
	l, ch, err := c.Symlink(ctx, d.Ino, "l", "f", NewAttr{UID: 7, Mtime: mt})
	check("symlink", d.Ino, before, ch, err)
	checkNew("symlink", l)
	if l.UID != 7 || !l.Mtime.Equal(mt) {
		t.Errorf("symlink: %+v", l)
	}

	before = attr(f.Ino)
	_, ch, err = c.WriteAt(ctx, f.Ino, []byte("hello"), 0)
	check("write", f.Ino, before, ch, err)
	if ch.After.Size != 5 {
		t.Errorf("write: size %d", ch.After.Size)
	}
	// Unstable writes: their size and mtime are pending, overlaid on
	// the stored record, in what the call returns as in GetAttr.
	for i, off := range []int64{5, 10} {
		before = attr(f.Ino)
		_, ch, err = c.WriteUnstable(ctx, f.Ino, []byte("world"), off)
		check("unstable write", f.Ino, before, ch, err)
		if ch.After.Size != off+5 || ch.Before.Size != off {
			t.Errorf("unstable write %d: size %d -> %d", i, ch.Before.Size, ch.After.Size)
		}
	}
	before = attr(f.Ino)
	a, err := c.Commit(ctx, f.Ino)
	check("commit", f.Ino, before, Change{before, a}, err)

	mode := fs.ModeSetuid | fs.ModeSetgid | 0o755
	before = attr(f.Ino)
	ch, err = c.SetAttr(ctx, f.Ino, SetAttr{Mode: &mode})
	check("chmod", f.Ino, before, ch, err)
	// A write that drops setuid and setgid: before is from before the
	// mode change, after from after the write.
	for _, stable := range []bool{false, true} {
		before = attr(f.Ino)
		_, ch, err = c.Write(ctx, f.Ino, []byte("!"), 15, WriteOpts{Stable: stable, KillSetID: true})
		check("write dropping setid", f.Ino, before, ch, err)
		if ch.After.Mode != 0o755 || ch.After.Size != 16 {
			t.Errorf("write dropping setid (stable %v): %+v", stable, ch.After)
		}
	}

	size := int64(3)
	before = attr(f.Ino)
	ch, err = c.SetAttr(ctx, f.Ino, SetAttr{Size: &size})
	check("truncate", f.Ino, before, ch, err)

	before = attr(RootIno)
	a, ch, err = c.Link(ctx, f.Ino, RootIno, "g")
	check("link", RootIno, before, ch, err)
	checkNew("link", a)
	if a.Nlink != 2 {
		t.Errorf("link: nlink %d", a.Nlink)
	}

	fromBefore, toBefore := attr(d.Ino), attr(RootIno)
	from, to, err := c.Rename(ctx, d.Ino, "f", RootIno, "h")
	check("rename from", d.Ino, fromBefore, from, err)
	check("rename to", RootIno, toBefore, to, err)
	// In one directory both changes are that directory's.
	before = attr(RootIno)
	from, to, err = c.Rename(ctx, RootIno, "h", RootIno, "i")
	check("rename in one directory", RootIno, before, from, err)
	check("rename in one directory", RootIno, before, to, err)

	for _, name := range []string{"g", "i"} {
		before = attr(RootIno)
		ch, err = c.Remove(ctx, RootIno, name)
		check("remove "+name, RootIno, before, ch, err)
	}
	// The file is gone: a Commit has nothing to do and no attributes.
	if a, err := c.Commit(ctx, f.Ino); err != nil || a.Ino != 0 {
		t.Errorf("commit of a removed file: %+v %v", a, err)
	}
	before = attr(d.Ino)
	ch, err = c.Remove(ctx, d.Ino, "l")
	check("remove symlink", d.Ino, before, ch, err)
	before = attr(RootIno)
	ch, err = c.Rmdir(ctx, RootIno, "d")
	check("rmdir", RootIno, before, ch, err)
	if ch.After.Nlink != ch.Before.Nlink-1 {
		t.Errorf("rmdir: nlink %d -> %d", ch.Before.Nlink, ch.After.Nlink)
	}
}

// TestWriteKeepsLockingMarker: a setgid file its group may not execute
// keeps setgid through a write that drops the set-id bits, as on Linux;
// setuid goes.
func TestWriteKeepsLockingMarker(t *testing.T) {
	ctx := context.Background()
	c := newTestCache(t, t.TempDir(), memstore.New())
	f := mustCreate(t, c, RootIno, "f")
	mode := fs.ModeSetuid | fs.ModeSetgid | 0o745
	if _, err := c.SetAttr(ctx, f.Ino, SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	_, ch, err := c.Write(ctx, f.Ino, []byte("x"), 0, WriteOpts{KillSetID: true})
	if err != nil || ch.After.Mode != fs.ModeSetgid|0o745 {
		t.Fatalf("write: %v %v", ch.After.Mode, err)
	}
	// Without KillSetID (a write by root) the bits stay.
	mode = fs.ModeSetuid | 0o755
	if _, err := c.SetAttr(ctx, f.Ino, SetAttr{Mode: &mode}); err != nil {
		t.Fatal(err)
	}
	if _, ch, err = c.Write(ctx, f.Ino, []byte("y"), 1, WriteOpts{}); err != nil || ch.After.Mode != mode {
		t.Fatalf("write by root: %v %v", ch.After.Mode, err)
	}
}
