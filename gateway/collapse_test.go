package gateway

import (
	"testing"

	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// TestGoNFSCollapses pins some of the go-nfs behaviours listed in doc.go,
// so an upgrade that changes them is noticed.
func TestGoNFSCollapses(t *testing.T) {
	e := newEnv(t)
	e.writeFile("f", []byte("x"))
	if _, err := e.target.Mkdir("d", 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.target.Mkdir("full", 0o755); err != nil {
		t.Fatal(err)
	}
	e.writeFile("full/x", nil)
	fileFH := e.lookupPath("f")

	t.Run("LINK is mis-decoded", func(t *testing.T) {
		_, st := e.call(15, struct {
			File []byte
			Dir  nfsc.Diropargs3
		}{fileFH, nfsc.Diropargs3{FH: e.rootFH, Filename: "hard"}})
		if st == nfsc.NFS3Ok {
			t.Fatal("LINK succeeded")
		}
		if _, st := e.lookup(e.rootFH, "hard"); st != nfsc.NFS3ErrNoEnt {
			t.Fatalf("lookup hard: %s", statusName(st))
		}
		t.Logf("LINK: %s", statusName(st))
	})

	t.Run("CREATE EXCLUSIVE is NOTSUPP", func(t *testing.T) {
		_, st := e.call(nfsc.NFSProc3Create, struct {
			Where nfsc.Diropargs3
			How   uint32
			Verf  uint64
		}{nfsc.Diropargs3{FH: e.rootFH, Filename: "excl"}, 2, 42})
		if st != nfsc.NFS3ErrNotSupp {
			t.Fatalf("CREATE EXCLUSIVE: %s", statusName(st))
		}
	})

	t.Run("RMDIR of non-empty is IO", func(t *testing.T) {
		_, st := e.call(nfsc.NFSProc3RmDir, nfsc.Diropargs3{FH: e.rootFH, Filename: "full"})
		if st != nfsc.NFS3ErrIO {
			t.Fatalf("RMDIR: %s", statusName(st))
		}
	})

	t.Run("REMOVE removes an empty directory", func(t *testing.T) {
		_, st := e.call(nfsc.NFSProc3Remove, nfsc.Diropargs3{FH: e.rootFH, Filename: "d"})
		if st != nfsc.NFS3Ok {
			t.Fatalf("REMOVE of a directory: %s", statusName(st))
		}
	})

	t.Run("REMOVE of dot is refused", func(t *testing.T) {
		fullFH := e.lookupPath("full")
		if err := e.target.Remove("full/x"); err != nil {
			t.Fatal(err)
		}
		_, st := e.call(nfsc.NFSProc3Remove, nfsc.Diropargs3{FH: fullFH, Filename: "."})
		if st == nfsc.NFS3Ok {
			t.Fatal("REMOVE of . succeeded")
		}
		if _, st := e.getattr(fullFH); st != nfsc.NFS3Ok {
			t.Fatalf("directory gone after REMOVE of .: %s", statusName(st))
		}
	})
}
