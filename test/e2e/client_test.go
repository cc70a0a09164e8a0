package e2e

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path"
	"sort"
	"strconv"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
)

// nfsClient is one mount of a gateway through go-nfs-client: its own
// TCP connection and MOUNT. The in-process server serves MOUNT and NFS on
// one port and runs no portmapper, so it is put together by hand.
type nfsClient struct {
	rpc *rpc.Client
	*nfsc.Target
}

// mount connects to addr (host:port) and mounts the export "/".
func mount(addr string) (*nfsClient, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, err
	}
	c, err := nfsc.DialServiceAtPort(host, p)
	if err != nil {
		return nil, err
	}
	m := &nfsc.Mount{Client: c}
	tg, err := m.Mount("/", rpc.AuthNull)
	if err != nil {
		c.Close()
		return nil, err
	}
	return &nfsClient{rpc: c, Target: tg}, nil
}

// Close drops the connection; the client's receive loop exits.
func (c *nfsClient) Close() { c.rpc.Close() }

// writeFile creates p (or opens it, if it exists) and writes data at
// offset 0 in WRITEs of the server's preferred size, then closes it,
// which sends COMMIT.
func (c *nfsClient) writeFile(p string, data []byte) error {
	f, err := c.OpenFile(p, 0o644)
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", p, err)
	}
	return nil
}

// truncate sets the size of p.
func (c *nfsClient) truncate(p string, size int64) error {
	err := c.Setattr(p, nfsc.Sattr3{Size: nfsc.SetSize{SetIt: true, Size: uint64(size)}})
	if err != nil {
		return fmt.Errorf("truncate %s: %w", p, err)
	}
	return nil
}

// chmod sets the permission bits of p.
func (c *nfsClient) chmod(p string, mode os.FileMode) error {
	err := c.Setattr(p, nfsc.Sattr3{Mode: nfsc.SetMode{SetIt: true, Mode: uint32(mode.Perm())}})
	if err != nil {
		return fmt.Errorf("chmod %s: %w", p, err)
	}
	return nil
}

// readFile reads p whole.
func (c *nfsClient) readFile(p string) ([]byte, error) {
	f, err := c.Open(p)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return b, fmt.Errorf("read %s: %w", p, err)
	}
	return b, nil
}

// names lists dir (READDIRPLUS), sorted, without "." and "..".
func (c *nfsClient) names(dir string) ([]string, error) {
	ents, err := c.ReadDirPlus(dir)
	if err != nil {
		return nil, fmt.Errorf("readdir %s: %w", dir, err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.FileName)
	}
	sort.Strings(out)
	return out, nil
}

// walk lists the whole tree below dir through NFS ("" is the root):
// every file's content and every directory, by path.
func (c *nfsClient) walk(dir string) (tree, error) {
	tr := newTree()
	todo := []string{dir}
	for len(todo) > 0 {
		d := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		ents, err := c.ReadDirPlus("/" + d)
		if err != nil {
			return tr, fmt.Errorf("readdir /%s: %w", d, err)
		}
		for _, e := range ents {
			p := path.Join(d, e.FileName)
			if e.IsDir() {
				tr.dirs[p] = true
				todo = append(todo, p)
				continue
			}
			b, err := c.readFile("/" + p)
			if err != nil {
				return tr, err
			}
			tr.add(p, b)
		}
	}
	return tr, nil
}

// nfsStatus is the NFS3 status in an error from go-nfs-client, 0 for
// nil, or -1 for an error that carries none (a broken connection).
func nfsStatus(err error) int {
	var ne *nfsc.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ne):
		return int(ne.ErrorNum)
	case errors.Is(err, os.ErrNotExist):
		return nfsc.NFS3ErrNoEnt
	case errors.Is(err, os.ErrExist):
		return nfsc.NFS3ErrExist
	case errors.Is(err, os.ErrPermission):
		return nfsc.NFS3ErrPerm
	}
	return -1
}

// hangLimit is how long any single NFS call may take before the test
// calls it a hang. It is a check that calls return at all, not a speed
// check: it sits above go-nfs-client's 5 s retransmit timeout and the
// gateways' op timeouts.
const hangLimit = 10 * time.Second

// noHang runs fn and fails t if it has not returned within hangLimit.
func noHang(t testing.TB, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	timer := time.NewTimer(hangLimit)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("%s: no answer within %v: the gateway hangs", what, hangLimit)
		return nil
	}
}

// mustNoHang is noHang for a call that must also succeed.
func mustNoHang(t testing.TB, what string, fn func() error) {
	t.Helper()
	if err := noHang(t, what, fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// randomBytes returns n bytes drawn from a PRNG seeded with seed, so
// content can be made again from its seed.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}
