package gateway

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	nfsc "github.com/willscott/go-nfs-client/nfs"
)

// The benchmarks drive the gateway with a real NFS client over loopback
// TCP, and do the same on the bare disk (the os package on a temporary
// directory) as the reference: BenchmarkX/nfs against BenchmarkX/disk.
// Disk writes are fsync'd, since the gateway answers every WRITE
// FILE_SYNC.

const (
	smallFile = 4 << 10
	bigFile   = 64 << 20
	chunk     = 1 << 20 // a Linux client's usual rsize and wsize
)

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

func BenchmarkStat(b *testing.B) {
	b.Run("nfs-getattr", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("f", []byte("x"))
		fh := e.lookupPath("f")
		b.ReportAllocs()
		for b.Loop() {
			if _, st := e.getattr(fh); st != nfsc.NFS3Ok {
				b.Fatal(statusName(st))
			}
		}
	})
	b.Run("nfs-lookup", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("f", []byte("x"))
		b.ReportAllocs()
		for b.Loop() {
			if _, st := e.lookup(e.rootFH, "f"); st != nfsc.NFS3Ok {
				b.Fatal(statusName(st))
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "f")
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			b.Fatal(err)
		}
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
		fh := e.lookupPath("d")
		b.ReportAllocs()
		for b.Loop() {
			if seen, _ := e.readdirAll(fh, true, 128<<10, nil); len(seen) != n+2 {
				b.Fatalf("%d entries", len(seen))
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		dir := b.TempDir()
		for i := range n {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file-%05d", i)), nil, 0o644); err != nil {
				b.Fatal(err)
			}
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

// BenchmarkWrite writes a 64 MiB file front to back in 1 MiB WRITEs.
func BenchmarkWrite(b *testing.B) {
	buf := bytes.Repeat([]byte{0xa5}, chunk)
	b.Run("nfs", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("big", nil)
		fh := e.lookupPath("big")
		b.SetBytes(bigFile)
		b.ReportAllocs()
		for b.Loop() {
			for off := 0; off < bigFile; off += chunk {
				if st := e.write(fh, uint64(off), buf); st != nfsc.NFS3Ok {
					b.Fatal(statusName(st))
				}
			}
		}
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

// BenchmarkRead reads a 64 MiB file front to back in 1 MiB READs.
func BenchmarkRead(b *testing.B) {
	data := bytes.Repeat([]byte{0x5a}, bigFile)
	b.Run("nfs", func(b *testing.B) {
		e := newEnv(b)
		e.writeFile("big", data)
		fh := e.lookupPath("big")
		b.SetBytes(bigFile)
		b.ReportAllocs()
		for b.Loop() {
			for off := 0; off < bigFile; off += chunk {
				if got, _, st := e.read(fh, uint64(off), chunk); st != nfsc.NFS3Ok || len(got) != chunk {
					b.Fatal(statusName(st), len(got))
				}
			}
		}
	})
	b.Run("disk", func(b *testing.B) {
		p := filepath.Join(b.TempDir(), "big")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
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
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}
