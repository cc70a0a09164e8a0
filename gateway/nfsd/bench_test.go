package nfsd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/filegate/filegate/cache"
)

// The benchmarks drive the server with a real NFS client over loopback
// TCP, and do the same on the bare disk (the os package on a temporary
// directory) as the reference: BenchmarkX/nfs against BenchmarkX/disk.
// Disk writes are fsync'd, as the server syncs every FILE_SYNC WRITE.

const (
	smallFile = 4 << 10
	bigFile   = 64 << 20
	chunk     = 1 << 20 // a Linux client's usual rsize and wsize
)

// BenchmarkCreate creates a 4 KiB file per iteration: CREATE, WRITE and
// COMMIT through go-nfs-client.
func BenchmarkCreate(b *testing.B) {
	data := bytes.Repeat([]byte{'x'}, smallFile)
	b.Run("nfs", func(b *testing.B) {
		e := newEnv(b)
		b.SetBytes(smallFile)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			e.writeFile(fmt.Sprintf("f%d", i), data)
			i++
		}
	})
	b.Run("disk", func(b *testing.B) {
		dir := b.TempDir()
		b.SetBytes(smallFile)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			writeSynced(b, filepath.Join(dir, fmt.Sprintf("f%d", i)), data, len(data))
			i++
		}
	})
}

// BenchmarkStat is one GETATTR of a handle, or one LOOKUP of a name.
func BenchmarkStat(b *testing.B) {
	b.Run("nfs-getattr", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("f", []byte("x"))
		fh, c := e.lookupPath("f"), e.raw()
		b.ReportAllocs()
		for b.Loop() {
			if _, st := getattr(b, c, rootCred, fh); st != 0 {
				b.Fatal(st)
			}
		}
	})
	b.Run("nfs-lookup", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("f", []byte("x"))
		c := e.raw()
		b.ReportAllocs()
		for b.Loop() {
			if _, st := lookup(b, c, rootCred, e.rootFH, "f"); st != 0 {
				b.Fatal(st)
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "f")
		must(b, os.WriteFile(p, []byte("x"), 0o644))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := os.Stat(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReaddir lists a directory of 1,000 files with their
// attributes (READDIRPLUS at a Linux client's 128 KiB; ReadDir and
// Lstat of each entry on disk).
func BenchmarkReaddir(b *testing.B) {
	const n = 1000
	b.Run("nfs", func(b *testing.B) {
		e := newEnv(b)
		e.makeFiles("d", n)
		fh, c := e.lookupPath("d"), e.raw()
		b.ReportAllocs()
		for b.Loop() {
			if seen, _ := listAll(b, c, fh, true, 128<<10, nil); len(seen) != n+2 {
				b.Fatalf("%d entries", len(seen))
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		dir := b.TempDir()
		for i := range n {
			must(b, os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), nil, 0o644))
		}
		b.ReportAllocs()
		for b.Loop() {
			ents, err := os.ReadDir(dir)
			if err != nil || len(ents) != n {
				b.Fatal(len(ents), err)
			}
			for _, e := range ents {
				if _, err := e.Info(); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// eachChunk serves a file "big" holding data and, on each iteration of
// b, calls op on one connection for each 1 MiB chunk of its bigFile
// bytes in order.
func eachChunk(b *testing.B, data []byte, op func(c *rawClient, fh []byte, off uint64)) {
	e := newEnv(b)
	e.writeFile("big", data)
	fh, c := e.lookupPath("big"), e.raw()
	b.SetBytes(bigFile)
	b.ReportAllocs()
	for b.Loop() {
		for off := 0; off < bigFile; off += chunk {
			op(c, fh, uint64(off))
		}
	}
}

// BenchmarkWrite writes a 64 MiB file front to back in 1 MiB FILE_SYNC
// WRITEs, one at a time.
func BenchmarkWrite(b *testing.B) {
	buf := bytes.Repeat([]byte{0xa5}, chunk)
	b.Run("nfs", func(b *testing.B) {
		eachChunk(b, nil, func(c *rawClient, fh []byte, off uint64) {
			if st, _, _ := write(b, c, rootCred, fh, off, fileSync, buf); st != 0 {
				b.Fatal(st)
			}
		})
	})
	b.Run("disk", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "big")
		b.SetBytes(bigFile)
		b.ReportAllocs()
		for b.Loop() {
			writeSynced(b, p, buf, bigFile)
		}
	})
}

// BenchmarkSmallWrite writes 4 KiB per iteration at the next offset of
// one file (wrapping at 16 MiB): UNSTABLE WRITEs as a client streams them
// before a COMMIT, and FILE_SYNC WRITEs as a client that opened with
// O_SYNC sends them.
func BenchmarkSmallWrite(b *testing.B) {
	buf := bytes.Repeat([]byte{0xa5}, smallFile)
	for _, tc := range []struct {
		name string
		how  uint32
	}{{"nfs-unstable", unstable}, {"nfs-filesync", fileSync}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b)
			e.writeFile("f", nil)
			fh, c := e.lookupPath("f"), e.raw()
			b.SetBytes(smallFile)
			b.ReportAllocs()
			off := uint64(0)
			for b.Loop() {
				if st, _, _ := write(b, c, rootCred, fh, off, tc.how, buf); st != 0 {
					b.Fatal(st)
				}
				off = (off + smallFile) % (16 << 20)
			}
		})
	}
}

// BenchmarkRead reads a cached 64 MiB file front to back in 1 MiB READs,
// one at a time (BenchmarkPipelinedRead keeps several outstanding).
func BenchmarkRead(b *testing.B) {
	data := bytes.Repeat([]byte{0x5a}, bigFile)
	b.Run("nfs", func(b *testing.B) {
		eachChunk(b, data, func(c *rawClient, fh []byte, off uint64) {
			st, d := c.nfs(b, rootCred, 6, new(args).fh(fh).u64(off).u32(chunk).bytes())
			if d.bool() {
				d.fattr3()
			}
			if n := d.uint32(); st != 0 || n != chunk {
				b.Fatal(st, n)
			}
		})
	})
	b.Run("disk", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "big")
		must(b, os.WriteFile(p, data, 0o644))
		buf := make([]byte, chunk)
		b.SetBytes(bigFile)
		b.ReportAllocs()
		for b.Loop() {
			f, err := os.Open(p)
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); off < bigFile; off += chunk {
				if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
			f.Close()
		}
	})
}

// writeSynced writes size bytes of buf (repeated) to p and fsyncs it.
func writeSynced(b *testing.B, p string, buf []byte, size int) {
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	for off := 0; off < size; off += len(buf) {
		if _, err := f.Write(buf[:min(len(buf), size-off)]); err != nil {
			b.Fatal(err)
		}
	}
	must(b, f.Sync())
	must(b, f.Close())
}

// BenchmarkPipelinedRead reads a cached 64 MiB file in 1 MiB READs with
// several outstanding on one connection, as the Linux client and
// libnfs's nfs-cat do. The client discards the data as it arrives, so
// the numbers are the server's.
func BenchmarkPipelinedRead(b *testing.B) {
	const depth = 8
	e := newEnv(b)
	ctx := context.Background()
	a, _, err := e.cache.Create(ctx, cache.RootIno, "big", cache.NewAttr{Mode: 0o644})
	must(b, err)
	buf := make([]byte, chunk)
	for off := 0; off < bigFile; off += chunk {
		buf[0] = byte(off >> 20)
		_, _, err := e.cache.WriteAt(ctx, a.Ino, buf, int64(off))
		must(b, err)
	}
	_, err = e.cache.Commit(ctx, a.Ino)
	must(b, err)
	fh := fileHandle{ExportID: 1, Ino: a.Ino, Gen: a.Gen}.append(nil)
	c := newPipeClient(b, e.addr, depth)
	b.SetBytes(chunk)
	b.ReportAllocs()
	off := uint64(0)
	for b.Loop() {
		c.read(b, fh, off, chunk)
		off = (off + chunk) % bigFile
	}
	c.drain(b)
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
