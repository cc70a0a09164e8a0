package nfsd

import (
	"bytes"
	"net/netip"
	"testing"
)

// create makes name in dir as cred (GUARDED, mode) and returns its
// handle, or the status.
func create(t testing.TB, c *rawClient, cred, dir []byte, name string, mode uint32) ([]byte, uint32) {
	t.Helper()
	st, d := c.nfs(t, cred, 8, new(args).fh(dir).name(name).u32(createGuarded).modeSattr(mode).bytes())
	if st != 0 {
		return nil, st
	}
	if !d.bool() {
		t.Fatal("create: no handle")
	}
	return bytes.Clone(d.opaque(64)), st
}

func mkdir(t testing.TB, c *rawClient, cred, dir []byte, name string, mode uint32) ([]byte, uint32) {
	t.Helper()
	st, d := c.nfs(t, cred, 9, new(args).fh(dir).name(name).modeSattr(mode).bytes())
	if st != 0 {
		return nil, st
	}
	d.bool()
	return bytes.Clone(d.opaque(64)), st
}

func access(t testing.TB, c *rawClient, cred, fh []byte) uint32 {
	t.Helper()
	st, d := c.nfs(t, cred, 4, new(args).fh(fh).u32(0x3f).bytes())
	if st != 0 {
		t.Fatalf("access: %d", st)
	}
	if d.bool() {
		d.fattr3()
	}
	return d.uint32()
}

func setattrMode(t testing.TB, c *rawClient, cred, fh []byte, mode uint32) uint32 {
	t.Helper()
	st, _ := c.nfs(t, cred, 2, new(args).fh(fh).modeSattr(mode).u32(0).bytes())
	return st
}

func TestPermissions(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	alice := authUnix(1000, 1000)
	bob := authUnix(2000, 2000, 1000) // in alice's group
	carol := authUnix(3000, 3000)

	if _, st := create(t, c, alice, e.rootFH, "x", 0o644); st != nfs3ErrAcces {
		t.Fatalf("create in root-owned 0755 dir as a user: %d", st)
	}
	shared, _ := mkdir(t, c, rootCred, e.rootFH, "shared", 0o1777)
	private, _ := mkdir(t, c, rootCred, e.rootFH, "private", 0o700)
	rootFile, _ := create(t, c, rootCred, shared, "rootfile", 0o644)

	mine, st := create(t, c, alice, shared, "mine", 0o664)
	if st != 0 {
		t.Fatalf("create in a 1777 dir: %d", st)
	}
	if a, _ := getattr(t, c, alice, mine); a.uid != 1000 || a.gid != 1000 || a.mode != 0o664 {
		t.Fatalf("new file uid %d gid %d mode %o", a.uid, a.gid, a.mode)
	}
	// Read yes, write no; chmod and chown of another's file no.
	if _, _, st := read(t, c, alice, rootFile, 0, 10); st != 0 {
		t.Fatalf("read of a 0644 file: %d", st)
	}
	if st, _, _ := write(t, c, alice, rootFile, 0, fileSync, []byte("x")); st != nfs3ErrAcces {
		t.Fatalf("write of another's 0644 file: %d", st)
	}
	if st := setattrMode(t, c, alice, rootFile, 0o666); st != nfs3ErrPerm {
		t.Fatalf("chmod of another's file: %d", st)
	}
	st, _ = c.nfs(t, alice, 2, new(args).fh(mine).u32(0).u32(1).u32(0).u32(0).u32(0).u32(0).u32(0).u32(0).bytes())
	if st != nfs3ErrPerm {
		t.Fatalf("chown to root by a user: %d", st)
	}
	if st := setattrMode(t, c, alice, mine, 0o600); st != 0 {
		t.Fatalf("chmod of own file: %d", st)
	}
	setattrMode(t, c, alice, mine, 0o664)
	// Sticky directory: no removing or renaming others' files.
	if st, _ := c.nfs(t, alice, 12, new(args).fh(shared).name("rootfile").bytes()); st != nfs3ErrPerm {
		t.Fatalf("remove of another's file in a sticky dir: %d", st)
	}
	if st, _ := c.nfs(t, alice, 14, new(args).fh(shared).name("rootfile").fh(shared).name("stolen").bytes()); st != nfs3ErrPerm {
		t.Fatalf("rename of another's file in a sticky dir: %d", st)
	}
	// No search, no listing in a 0700 dir of another.
	if _, st := lookup(t, c, alice, private, "x"); st != nfs3ErrAcces {
		t.Fatalf("lookup in another's 0700 dir: %d", st)
	}
	if st, _ := c.nfs(t, alice, 16, new(args).fh(private).u64(0).u64(0).u32(4096).bytes()); st != nfs3ErrAcces {
		t.Fatalf("readdir of another's 0700 dir: %d", st)
	}
	// Supplementary groups count: bob is in group 1000.
	if st, _, _ := write(t, c, bob, mine, 0, fileSync, []byte("bob")); st != 0 {
		t.Fatalf("write by a member of the file's group: %d", st)
	}
	if st, _, _ := write(t, c, carol, mine, 0, fileSync, []byte("carol")); st != nfs3ErrAcces {
		t.Fatalf("write by another: %d", st)
	}
	// ACCESS tells the truth.
	for _, tc := range []struct {
		name     string
		cred, fh []byte
		want     uint32
	}{
		{"user on 0644 of root", alice, rootFile, access3Read},
		{"owner on 0664", alice, mine, access3Read | access3Modify | access3Extend},
		{"group member on 0664", bob, mine, access3Read | access3Modify | access3Extend},
		{"other on 0664", carol, mine, access3Read},
		{"root on non-executable", rootCred, mine, access3Read | access3Modify | access3Extend},
		{"user on 1777 dir", alice, shared, access3Read | access3Lookup | access3Modify | access3Extend | access3Delete},
		{"user on 0700 dir of root", alice, private, 0},
		{"root on 0700 dir", rootCred, private, access3Read | access3Lookup | access3Modify | access3Extend | access3Delete},
	} {
		if got := access(t, c, tc.cred, tc.fh); got != tc.want {
			t.Errorf("%s: access %#x, want %#x", tc.name, got, tc.want)
		}
	}
	// setgid directories hand down their group (and setgid to subdirs).
	sg, _ := mkdir(t, c, rootCred, e.rootFH, "sg", 0o777)
	st, _ = c.nfs(t, rootCred, 2, new(args).fh(sg).u32(1).u32(0o2777).u32(0).u32(1).u32(50).u32(0).u32(0).u32(0).u32(0).bytes())
	if st != 0 {
		t.Fatalf("chgrp+chmod of sg: %d", st)
	}
	f, _ := create(t, c, alice, sg, "f", 0o644)
	if a, _ := getattr(t, c, alice, f); a.gid != 50 || a.uid != 1000 {
		t.Fatalf("file in setgid dir: uid %d gid %d", a.uid, a.gid)
	}
	sub, _ := mkdir(t, c, alice, sg, "sub", 0o755)
	if a, _ := getattr(t, c, alice, sub); a.gid != 50 || a.mode != 0o2755 {
		t.Fatalf("dir in setgid dir: gid %d mode %o", a.gid, a.mode)
	}
	// A user may not make device nodes.
	if st, _ := c.nfs(t, alice, 11, new(args).fh(shared).name("dev").u32(nf3Chr).noSattr().u32(1).u32(3).bytes()); st != nfs3ErrPerm {
		t.Fatalf("mknod of a device by a user: %d", st)
	}
}

func TestSquash(t *testing.T) {
	t.Run("root", func(t *testing.T) {
		e := newEnv(t, func(e *env) { e.cfg.Export.Squash = SquashRoot })
		c := e.raw()
		// The root directory belongs to uid 0, 0755: squashed root may
		// not write in it.
		if _, st := create(t, c, rootCred, e.rootFH, "x", 0o644); st != nfs3ErrAcces {
			t.Fatalf("create as squashed root: %d", st)
		}
		if st := setattrMode(t, c, rootCred, e.rootFH, 0o777); st != nfs3ErrPerm {
			t.Fatalf("chmod of / as squashed root: %d", st)
		}
	})
	t.Run("all", func(t *testing.T) {
		e := newEnv(t, func(e *env) { e.cfg.Export.Squash = SquashAll; e.cfg.Export.AnonUID = 77; e.cfg.Export.AnonGID = 88 })
		c := e.raw()
		if _, st := create(t, c, authUnix(1000, 1000), e.rootFH, "x", 0o644); st != nfs3ErrAcces {
			t.Fatalf("create as squashed user: %d", st)
		}
	})
	t.Run("anonymous", func(t *testing.T) {
		e := newEnv(t)
		c := e.raw()
		shared, _ := mkdir(t, c, rootCred, e.rootFH, "shared", 0o777)
		f, st := create(t, c, nil, shared, "anon", 0o644) // AUTH_NONE
		if st != 0 {
			t.Fatal(st)
		}
		if a, _ := getattr(t, c, nil, f); a.uid != 65534 || a.gid != 65534 {
			t.Fatalf("AUTH_NONE file owned by %d:%d", a.uid, a.gid)
		}
	})
}

func TestExportPolicy(t *testing.T) {
	t.Run("read-only", func(t *testing.T) {
		e := newEnv(t, func(e *env) { e.cfg.Export.ReadOnly = true })
		c := e.raw()
		if _, st := create(t, c, rootCred, e.rootFH, "x", 0o644); st != nfs3ErrROFS {
			t.Fatalf("create on a read-only export: %d", st)
		}
		if got := access(t, c, rootCred, e.rootFH); got != access3Read|access3Lookup {
			t.Fatalf("access on a read-only export: %#x", got)
		}
	})
	for _, tc := range []struct {
		name string
		opt  func(*Export)
	}{
		{"client list", func(x *Export) { x.Clients = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} }},
		{"secure", func(x *Export) { x.Secure = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.opt(&cfg.Export)
			srv, err := New(cfg, stubNodes{})
			must(t, err)
			l := listenLocal(t)
			go srv.Serve(t.Context(), l)
			defer srv.Close()
			// From an unprivileged port (net.Dial's choice) and 127.0.0.1.
			c := dialRaw(t, l.Addr())
			if r := c.call(t, progMount, 3, 1, rootCred, new(args).name("/").bytes()); r.accept != 0 || r.d.uint32() != mnt3ErrAcces {
				t.Fatalf("mount from a refused client: accept %d", r.accept)
			}
			r := c.call(t, progNFS, 3, 1, rootCred, new(args).fh(fileHandle{ExportID: 1, Ino: 1, Gen: 1}.append(nil)).bytes())
			if r.accept != 1000+rejectAuthError {
				t.Fatalf("getattr from a refused client: accept %d", r.accept)
			}
			if r := c.call(t, progNFS, 3, 0, nil, nil); r.accept != 0 {
				t.Fatalf("null from a refused client: %d", r.accept)
			}
		})
	}
}
