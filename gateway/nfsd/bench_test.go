package nfsd

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"net"
	"testing"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway"
)

// BenchmarkPipelinedRead reads a cached 64 MiB file in 1 MiB READs with
// several outstanding on one connection (as the Linux client and
// libnfs's nfs-cat do), from this server and from the go-nfs front end
// over the same cache, in the same run. The client discards the data as
// it arrives, so the numbers are the servers'.
func BenchmarkPipelinedRead(b *testing.B) {
	const (
		fileSize = 64 << 20
		chunk    = 1 << 20
		depth    = 8
	)
	e := newEnv(b)
	ctx := context.Background()
	a, err := e.cache.Create(ctx, cache.RootIno, "big", cache.NewAttr{Mode: 0o644})
	must(b, err)
	buf := make([]byte, chunk)
	for off := 0; off < fileSize; off += chunk {
		buf[0] = byte(off >> 20)
		_, err := e.cache.WriteAt(ctx, a.Ino, buf, int64(off))
		must(b, err)
	}
	must(b, e.cache.Commit(ctx, a.Ino))
	fh := fileHandle{ExportID: 1, Ino: a.Ino, Gen: a.Gen}.append(nil)

	gcfg := gateway.DefaultConfig()
	gcfg.Listen = "127.0.0.1:0"
	gsrv, err := gateway.New(gcfg, e.cache)
	must(b, err)
	gl := listenLocal(b)
	served := make(chan error, 1)
	go func() { served <- gsrv.Serve(ctx, gl) }()
	b.Cleanup(func() { gsrv.Close(); <-served })

	for _, tc := range []struct {
		name string
		addr net.Addr
	}{{"nfsd", e.addr}, {"go-nfs", gl.Addr()}} {
		b.Run(tc.name, func(b *testing.B) {
			c := newPipeClient(b, tc.addr, depth)
			b.SetBytes(chunk)
			b.ReportAllocs()
			off := uint64(0)
			for b.Loop() {
				c.read(b, fh, off, chunk)
				off = (off + chunk) % fileSize
			}
			c.drain(b)
		})
	}
}

// pipeClient keeps up to depth READs outstanding on one connection and
// checks each reply's statuses and length, discarding the data.
type pipeClient struct {
	nc      net.Conn
	slots   chan struct{}
	errs    chan error
	xid     uint32
	sent    int
	replies chan struct{}
	wbuf    []byte
}

func newPipeClient(b *testing.B, addr net.Addr, depth int) *pipeClient {
	nc, err := net.Dial("tcp", addr.String())
	must(b, err)
	c := &pipeClient{nc: nc, slots: make(chan struct{}, depth), errs: make(chan error, 1), replies: make(chan struct{}, 1<<20)}
	go c.readLoop()
	b.Cleanup(func() { nc.Close() })
	return c
}

func (c *pipeClient) read(b *testing.B, fh []byte, off uint64, n uint32) {
	select {
	case c.slots <- struct{}{}:
	case err := <-c.errs:
		b.Fatal(err)
	}
	c.xid++
	e := encoder{b: c.wbuf[:0]}
	e.uint32(0)
	for _, v := range []uint32{c.xid, msgCall, rpcVersion, progNFS, 3, 6, authFlavUnix} {
		e.uint32(v)
	}
	e.opaque(authUnix(0, 0))
	e.uint32(0)
	e.uint32(0)
	e.opaque(fh)
	e.uint64(off)
	e.uint32(n)
	recordMark(e.b, 0)
	c.wbuf = e.b
	if _, err := c.nc.Write(e.b); err != nil {
		b.Fatal(err)
	}
	c.sent++
}

func (c *pipeClient) drain(b *testing.B) {
	for range c.sent {
		select {
		case <-c.replies:
		case err := <-c.errs:
			b.Fatal(err)
		}
	}
}

func (c *pipeClient) readLoop() {
	r := bufio.NewReaderSize(c.nc, 256<<10)
	var hdr [4 + 24 + 4]byte
	for {
		var size int
		for last := false; !last; {
			var mark [4]byte
			if _, err := io.ReadFull(r, mark[:]); err != nil {
				c.errs <- err
				return
			}
			h := binary.BigEndian.Uint32(mark[:])
			last, size = h&(1<<31) != 0, size+int(h&^(1<<31))
		}
		// xid, REPLY, ACCEPTED, verifier (2 words), SUCCESS, NFS3_OK.
		if _, err := io.ReadFull(r, hdr[:28]); err != nil {
			c.errs <- err
			return
		}
		if st := binary.BigEndian.Uint32(hdr[20:]); st != 0 || binary.BigEndian.Uint32(hdr[24:]) != 0 {
			c.errs <- io.ErrUnexpectedEOF
			return
		}
		if _, err := r.Discard(size - 28); err != nil {
			c.errs <- err
			return
		}
		c.replies <- struct{}{}
		<-c.slots
	}
}
