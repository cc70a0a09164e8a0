package nfsd

import (
	"context"
	"encoding/binary"
	"io"
	"io/fs"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
)

func TestRPCErrors(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	getattrArgs := new(args).fh(e.rootFH).bytes()
	for _, tc := range []struct {
		name              string
		prog, vers, proc  uint32
		args              []byte
		accept            uint32
		mismatchLow, high uint32
	}{
		{"unknown program", 200000, 1, 0, nil, acceptProgUnavail, 0, 0},
		{"lock manager", progNLM, 4, 0, nil, acceptProgUnavail, 0, 0},
		{"NFSv4", progNFS, 4, 0, nil, acceptProgMismatch, 3, 3},
		{"NFSv2", progNFS, 2, 1, getattrArgs, acceptProgMismatch, 3, 3},
		{"MOUNT v4", progMount, 4, 0, nil, acceptProgMismatch, 1, 3},
		{"MOUNT v1 MNT", progMount, 1, 1, new(args).name("/").bytes(), acceptProcUnavail, 0, 0},
		{"MOUNT v1 EXPORT", progMount, 1, 5, nil, acceptSuccess, 0, 0},
		{"unknown procedure", progNFS, 3, 22, nil, acceptProcUnavail, 0, 0},
		{"huge procedure", progNFS, 3, 1 << 31, nil, acceptProcUnavail, 0, 0},
		{"mount procedure", progMount, 3, 6, nil, acceptProcUnavail, 0, 0},
		{"truncated args", progNFS, 3, 1, getattrArgs[:10], acceptGarbageArgs, 0, 0},
		{"no args", progNFS, 3, 7, nil, acceptGarbageArgs, 0, 0},
		{"handle over 64 bytes", progNFS, 3, 1, new(args).fh(make([]byte, 65)).bytes(), acceptGarbageArgs, 0, 0},
		{"bad bool", progNFS, 3, 2, new(args).fh(e.rootFH).u32(7).bytes(), acceptGarbageArgs, 0, 0},
		{"write count past data", progNFS, 3, 7, new(args).fh(e.rootFH).u64(0).u32(10).u32(0).opaqueData([]byte("abc")).bytes(), acceptGarbageArgs, 0, 0},
		{"null", progNFS, 3, 0, nil, acceptSuccess, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := c.call(t, tc.prog, tc.vers, tc.proc, rootCred, tc.args)
			if r.accept != tc.accept {
				t.Fatalf("accept status %d, want %d", r.accept, tc.accept)
			}
			if tc.accept == acceptProgMismatch {
				if lo, hi := r.d.uint32(), r.d.uint32(); lo != tc.mismatchLow || hi != tc.high {
					t.Fatalf("mismatch %d..%d", lo, hi)
				}
			}
		})
	}

	// Denied calls: wrong RPC version, unknown credential flavor, and
	// a damaged AUTH_UNIX body.
	denied := func(name string, mutate func(b []byte) []byte, reject, stat uint32) {
		t.Run(name, func(t *testing.T) {
			xid, b := c.callHdr(progNFS, 3, 0, rootCred)
			b = mutate(b)
			recordMark(b, 0)
			ch, err := c.send(xid, b)
			must(t, err)
			rec := <-ch
			d := decoder{b: rec}
			d.uint32()
			d.uint32()
			if d.uint32() != msgDenied || d.uint32() != reject || d.uint32() != stat {
				t.Fatalf("reply %x", rec)
			}
		})
	}
	denied("rpc version 3", func(b []byte) []byte { binary.BigEndian.PutUint32(b[12:], 3); return b }, rejectRPCMismatch, 2)
	denied("flavor 6", func(b []byte) []byte { binary.BigEndian.PutUint32(b[28:], 6); return b }, rejectAuthError, authBadCred)
	denied("auth_unix with 17 groups", func(b []byte) []byte {
		xid := binary.BigEndian.Uint32(b[4:])
		_, nb := c.callHdr(progNFS, 3, 0, authUnix(1, 1, make([]uint32, 17)...))
		binary.BigEndian.PutUint32(nb[4:], xid)
		return nb
	}, rejectAuthError, authBadCred)

	// The connection still works after all that.
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}
}

func TestRecords(t *testing.T) {
	e := newEnv(t)
	c := e.raw()
	// One call in three fragments.
	xid, b := c.callHdr(progNFS, 3, 1, rootCred)
	b = append(b, new(args).fh(e.rootFH).bytes()...)
	body := b[4:]
	var rec []byte
	for i, part := range [][]byte{body[:5], body[5:30], body[30:]} {
		h := uint32(len(part))
		if i == 2 {
			h |= 1 << 31
		}
		rec = binary.BigEndian.AppendUint32(rec, h)
		rec = append(rec, part...)
	}
	ch, err := c.send(xid, rec)
	must(t, err)
	if r := waitReply(t, ch); r.accept != 0 || r.d.uint32() != 0 {
		t.Fatal("fragmented call failed")
	}
	// A record too short to hold an xid gets no reply; the next call
	// does.
	_, err = c.nc.Write([]byte{0x80, 0, 0, 2, 1, 2})
	must(t, err)
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}

	// A record over the limit ends the connection, before the server
	// reads or buffers it.
	c2 := e.raw()
	hdr := binary.BigEndian.AppendUint32(nil, 1<<31|(maxRecord+1))
	_, err = c2.nc.Write(hdr)
	must(t, err)
	c2.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	select {
	case <-c2.done:
	case <-time.After(5 * time.Second):
		t.Fatal("oversized record: connection still open")
	}
	// So does one over the limit in many fragments.
	c3 := e.raw()
	frag := make([]byte, 4+64<<10)
	binary.BigEndian.PutUint32(frag, 64<<10)
	go func() {
		for range maxRecord/(64<<10) + 2 {
			if _, err := c3.nc.Write(frag); err != nil {
				return
			}
		}
	}()
	select {
	case <-c3.done:
	case <-time.After(5 * time.Second):
		t.Fatal("oversized fragmented record: connection still open")
	}
	// A connection that closes mid-record is dropped quietly; the server
	// goes on.
	nc, err := net.Dial("tcp", e.addr.String())
	must(t, err)
	nc.Write([]byte{0x80, 0, 1, 0, 1, 2, 3})
	nc.Close()
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}
}

// stubNodes answers with a directory (the root), a file (2) and a
// symlink (3); everything else fails. For the fuzz test: it exercises the
// procedures beyond their decoding without a cache.
type stubNodes struct{}

func stubAttr(ino cache.Ino) (cache.Attr, error) {
	now := time.Unix(1700000000, 0)
	a := cache.Attr{Ino: ino, Gen: 1, Nlink: 1, Atime: now, Mtime: now, Ctime: now}
	switch ino {
	case cache.RootIno:
		a.Mode = fs.ModeDir | fs.ModeSticky | 0o777
	case 2:
		a.Mode, a.Size = 0o644, 100
	case 3:
		a.Mode = fs.ModeSymlink | 0o777
	default:
		return cache.Attr{}, syscall.ESTALE
	}
	return a, nil
}

func (stubNodes) Lookup(_ context.Context, dir cache.Ino, name string) (cache.Attr, error) {
	if name == "f" {
		return stubAttr(2)
	}
	return cache.Attr{}, syscall.ENOENT
}
func (stubNodes) GetAttr(_ context.Context, ino cache.Ino) (cache.Attr, error) { return stubAttr(ino) }

// stubChange is a change that left ino as it was.
func stubChange(ino cache.Ino) (cache.Change, error) {
	a, err := stubAttr(ino)
	return cache.Change{Before: a, After: a}, err
}

func (stubNodes) SetAttr(_ context.Context, ino cache.Ino, _ cache.SetAttr) (cache.Change, error) {
	return stubChange(ino)
}
func (stubNodes) Create(context.Context, cache.Ino, string, cache.NewAttr) (cache.Attr, cache.Change, error) {
	a, _ := stubAttr(2)
	dc, err := stubChange(cache.RootIno)
	return a, dc, err
}
func (stubNodes) Mkdir(context.Context, cache.Ino, string, cache.NewAttr) (cache.Attr, cache.Change, error) {
	return cache.Attr{}, cache.Change{}, syscall.ENOSPC
}
func (stubNodes) Symlink(context.Context, cache.Ino, string, string, cache.NewAttr) (cache.Attr, cache.Change, error) {
	a, _ := stubAttr(3)
	dc, err := stubChange(cache.RootIno)
	return a, dc, err
}
func (stubNodes) Readlink(context.Context, cache.Ino) (string, error) { return "target", nil }
func (stubNodes) Link(_ context.Context, ino, dir cache.Ino, _ string) (cache.Attr, cache.Change, error) {
	a, err := stubAttr(ino)
	dc, _ := stubChange(dir)
	return a, dc, err
}
func (stubNodes) Remove(_ context.Context, dir cache.Ino, _ string) (cache.Change, error) {
	return stubChange(dir)
}
func (stubNodes) Rmdir(context.Context, cache.Ino, string) (cache.Change, error) {
	return cache.Change{}, syscall.ENOTEMPTY
}
func (stubNodes) Rename(context.Context, cache.Ino, string, cache.Ino, string) (cache.Change, cache.Change, error) {
	return cache.Change{}, cache.Change{}, syscall.EXDEV
}
func (stubNodes) ReadDir(_ context.Context, _ cache.Ino, cookie uint64, fn func(cache.DirEntry) bool) error {
	for i := cookie + 1; i < 5; i++ {
		if !fn(cache.DirEntry{Name: "f", Ino: 2, Cookie: i}) {
			return nil
		}
	}
	return nil
}
func (stubNodes) ReadAt(_ context.Context, _ cache.Ino, p []byte, off int64) (int, error) {
	if off >= 100 {
		return 0, io.EOF
	}
	n := min(len(p), int(100-off))
	return n, nil
}
func (stubNodes) Write(_ context.Context, ino cache.Ino, p []byte, _ int64, _ cache.WriteOpts) (int, cache.Change, error) {
	ch, err := stubChange(ino)
	return len(p), ch, err
}
func (stubNodes) Commit(_ context.Context, ino cache.Ino) (cache.Attr, error) { return stubAttr(ino) }
func (stubNodes) StatFS(context.Context) (cache.FSStat, error) {
	return cache.FSStat{TotalBytes: 1 << 30}, nil
}

// FuzzDispatch feeds arbitrary records to the request decoder and every
// procedure: no panic, and a reply (if any) that is a well-formed RPC
// reply to the record's xid. A record is counted in the RPC stats
// exactly when it starts with an RPC version 2 call header, and then it
// gets a reply.
func FuzzDispatch(f *testing.F) {
	s, err := New(DefaultConfig(), stubNodes{})
	if err != nil {
		f.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	cn := &conn{s: s, nc: a, allowed: []bool{true}}
	root := fileHandle{ExportID: 1, Ino: 1, Gen: 1}.append(nil)
	file := fileHandle{ExportID: 1, Ino: 2, Gen: 1}.append(nil)
	seed := func(prog, vers, proc uint32, cred []byte, args []byte) {
		var rc rawClient
		_, h := rc.callHdr(prog, vers, proc, cred)
		f.Add(append(h[4:], args...))
	}
	for proc := range uint32(22) {
		seed(progNFS, 3, proc, authUnix(1000, 1000, 5), new(args).fh(root).name("f").u32(0).u64(0).bytes())
		seed(progNFS, 3, proc, nil, new(args).fh(file).u64(0).u32(10).u32(2).opaqueData([]byte("x")).bytes())
		seed(progNFS, 3, proc, authUnix(0, 0), new(args).fh(root).name("f").fh(root).name("g").bytes())
	}
	for proc := range uint32(6) {
		seed(progMount, 3, proc, nil, new(args).name("/").bytes())
	}
	seed(progPortmap, 2, 3, nil, new(args).u32(progNFS).u32(3).u32(6).u32(0).bytes())
	f.Fuzz(func(t *testing.T, rec []byte) {
		out := make([]byte, 4, smallBuf)
		r := call{conn: cn, s: s, e: encoder{b: out}}
		replied := r.dispatch(rec)
		u := func(i int) uint32 { return binary.BigEndian.Uint32(rec[4*i:]) }
		counted := len(rec) >= callHeaderLen && u(1) == msgCall && u(2) == rpcVersion
		if (r.counters != nil) != counted || counted && !replied {
			t.Fatalf("counted %v, replied %v: %x", r.counters != nil, replied, rec)
		}
		if !replied {
			return
		}
		defer r.releasePayload()
		recordMark(r.e.b, len(r.payload))
		if len(r.e.b) < 24 || binary.BigEndian.Uint32(r.e.b[4:]) != binary.BigEndian.Uint32(rec) {
			t.Fatalf("reply %x to %x", r.e.b, rec)
		}
		if _, err := parseReply(r.e.b[4:]); err != nil {
			t.Fatal(err)
		}
	})
}
