package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway/nfsd"
)

// nfsTarget drives an in-process gateway (gateway/nfsd over a cache)
// through go-nfs-client over TCP.
type nfsTarget struct {
	c      *cache.Cache
	srv    *nfsd.Server
	client *rpc.Client
	t      *nfsc.Target
	done   chan error
}

// newServer returns our NFS server over c, for the bench's client,
// which is root.
func newServer(c *cache.Cache) (*nfsd.Server, error) {
	cfg := nfsd.DefaultConfig()
	cfg.Export.Squash = nfsd.SquashNone
	return nfsd.New(cfg, c)
}

// startGateway serves a cache in tmp/cache over a POSIX backend in
// tmp/backend.
func startGateway(ctx context.Context, tmp string) (*nfsTarget, error) {
	store, err := posixStore(filepath.Join(tmp, "backend"))
	if err != nil {
		return nil, err
	}
	return startGatewayOn(ctx, filepath.Join(tmp, "cache"), store, nil)
}

func posixStore(dir string) (*posix.Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return posix.New(posix.Config{Root: dir})
}

// startGatewayOn serves a cache in cacheDir over store; tune, if set,
// adjusts the cache's configuration.
func startGatewayOn(ctx context.Context, cacheDir string, store backend.Store, tune func(*cache.Config)) (*nfsTarget, error) {
	ccfg := cache.DefaultConfig()
	ccfg.Dir, ccfg.Store = cacheDir, store
	if tune != nil {
		tune(&ccfg)
	}
	c, err := cache.New(ctx, ccfg)
	if err != nil {
		return nil, err
	}
	srv, err := newServer(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.Close()
		return nil, err
	}
	n := &nfsTarget{c: c, srv: srv, done: make(chan error, 1)}
	go func() { n.done <- srv.Serve(ctx, l) }()
	port := l.Addr().(*net.TCPAddr).Port
	if n.client, err = nfsc.DialServiceAtPort("127.0.0.1", port); err != nil {
		n.close()
		return nil, err
	}
	m := &nfsc.Mount{Client: n.client}
	if n.t, err = m.Mount("/", rpc.NewAuthUnix("filegate-bench", 0, 0).Auth()); err != nil {
		n.close()
		return nil, fmt.Errorf("mount: %w", err)
	}
	return n, nil
}

func (n *nfsTarget) name() string { return "filegate (NFS)" }

func (n *nfsTarget) createFile(path string, data []byte) error {
	f, err := n.t.OpenFile(path, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return errors.Join(err, f.Close())
}

func (n *nfsTarget) stat(path string) error {
	_, _, err := n.t.Lookup(path, false)
	return err
}

func (n *nfsTarget) readDir(path string) (int, error) {
	ents, err := n.t.ReadDirPlus(path)
	count := 0
	for _, e := range ents {
		if e.FileName != "." && e.FileName != ".." {
			count++
		}
	}
	return count, err
}

func (n *nfsTarget) mkdir(path string) error {
	_, err := n.t.Mkdir(path, 0o755)
	return err
}

func (n *nfsTarget) writeFile(path string, chunk []byte, total int64) error {
	f, err := n.t.OpenFile(path, 0o644)
	if err != nil {
		return err
	}
	for w := int64(0); w < total && err == nil; w += int64(len(chunk)) {
		_, err = f.Write(chunk)
	}
	return errors.Join(err, f.Close())
}

func (n *nfsTarget) readFile(path string, buf []byte) (int64, error) {
	f, err := n.t.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return drain(f, buf)
}

func (n *nfsTarget) close() error {
	if n.t != nil {
		n.t.Close()
	}
	if n.client != nil {
		n.client.Close()
	}
	n.srv.Close()
	select {
	case <-n.done:
	case <-time.After(5 * time.Second):
	}
	return n.c.Close()
}
