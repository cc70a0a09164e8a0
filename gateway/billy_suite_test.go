package gateway

import (
	"context"
	"os"
	"path"
	"testing"
	"time"

	billy "github.com/go-git/go-billy/v5"
	"github.com/go-git/go-billy/v5/test"
	check "gopkg.in/check.v1"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache"
)

// newCacheFS returns the billy adapter over a fresh cache in dir (over a
// memstore), and a func closing both.
func newCacheFS(tb testing.TB, dir string) (*fsys, *cache.Cache, func()) {
	cc := cache.DefaultConfig()
	cc.Dir, cc.Store = dir, memstore.New()
	c, err := cache.New(context.Background(), cc)
	if err != nil {
		tb.Fatal(err)
	}
	life, stop := context.WithCancel(context.Background())
	f := newFS(c, life, time.Minute, testLogger())
	return f, c, func() {
		f.gate.close()
		stop()
		if err := c.Close(); err != nil {
			tb.Error(err)
		}
	}
}

// billySuite runs go-billy's own conformance suites on the adapter, each
// test on a fresh cache.
type billySuite struct {
	test.BasicSuite
	test.DirSuite
	test.SymlinkSuite
	t     *testing.T
	close func()
}

func (s *billySuite) SetUpTest(c *check.C) {
	f, _, closeFS := newCacheFS(s.t, c.MkDir())
	fs := &makeParents{f}
	s.BasicSuite.FS, s.DirSuite.FS, s.SymlinkSuite.FS = fs, fs, fs
	s.close = closeFS
}

// makeParents creates missing parent directories before Create,
// OpenFile(O_CREATE), Symlink and Rename, as billy's osfs does and its
// suites expect. The adapter itself answers ENOENT instead, as NFS wants:
// go-nfs checks the parent first, and if it vanishes meanwhile the client
// must not see it come back.
type makeParents struct{ *fsys }

func (m *makeParents) mkParent(name string) {
	if dir := path.Dir(path.Clean("/" + name)); dir != "/" {
		_ = m.MkdirAll(dir, 0o755)
	}
}

func (m *makeParents) Create(name string) (billy.File, error) {
	m.mkParent(name)
	return m.fsys.Create(name)
}

func (m *makeParents) OpenFile(name string, flag int, perm os.FileMode) (billy.File, error) {
	if flag&os.O_CREATE != 0 {
		m.mkParent(name)
	}
	return m.fsys.OpenFile(name, flag, perm)
}

func (m *makeParents) Symlink(target, link string) error {
	m.mkParent(link)
	return m.fsys.Symlink(target, link)
}

func (m *makeParents) Rename(from, to string) error {
	m.mkParent(to)
	return m.fsys.Rename(from, to)
}

func (s *billySuite) TearDownTest(c *check.C) { s.close() }

func TestBillySuites(t *testing.T) {
	res := check.Run(&billySuite{t: t}, &check.RunConf{Verbose: testing.Verbose()})
	if !res.Passed() {
		t.Fatal(res)
	}
	t.Log(res)
}
