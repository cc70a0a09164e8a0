package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// rawNFS is a minimal synchronous NFSv3 client (AUTH_UNIX as root) for
// MNT, LOOKUP and READ: go-nfs-client would measure its own XDR.
type rawNFS struct {
	nc   net.Conn
	r    *bufio.Reader
	xid  uint32
	buf  []byte
	rbuf []byte
}

func dialRawNFS(port int) (*rawNFS, error) {
	nc, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return nil, err
	}
	return &rawNFS{nc: nc, r: bufio.NewReaderSize(nc, 64<<10), buf: make([]byte, 0, 1024)}, nil
}

// dialExport connects a rawNFS client to s and mounts s's export,
// returning the client and the export's root handle.
func dialExport(s feServer) (*rawNFS, []byte, error) {
	c, err := dialRawNFS(s.port)
	if err != nil {
		return nil, nil, err
	}
	root, err := mountAt(s.mountPort, s.export)
	if err != nil {
		c.nc.Close()
		return nil, nil, err
	}
	return c, root, nil
}

// dialFile connects a rawNFS client to s and looks up name in the root
// of s's export, returning the client and the file's handle.
func dialFile(s feServer, name string) (*rawNFS, []byte, error) {
	c, root, err := dialExport(s)
	if err != nil {
		return nil, nil, err
	}
	fh, err := c.lookup(root, name)
	if err != nil {
		c.nc.Close()
		return nil, nil, err
	}
	return c, fh, nil
}

func (c *rawNFS) call(prog, vers, proc uint32, args []byte) ([]byte, error) {
	c.xid++
	b := c.buf[:4]
	for _, v := range []uint32{c.xid, 0, 2, prog, vers, proc, 1, 20, 0, 0, 0, 0, 0, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	// AUTH_UNIX body: stamp 0, machine name "" (0), uid 0, gid 0, no
	// groups (20 bytes, above); verifier AUTH_NONE.
	b = append(b, args...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-4)|1<<31)
	c.buf = b[:0]
	c.nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		return nil, err
	}
	rec := c.rbuf[:0]
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
			return nil, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		n, size := len(rec), int(h&^(1<<31))
		rec = slices.Grow(rec, size)[:n+size]
		if _, err := io.ReadFull(c.r, rec[n:]); err != nil {
			return nil, err
		}
		if h&(1<<31) != 0 {
			break
		}
	}
	c.rbuf = rec
	if len(rec) < 24 || binary.BigEndian.Uint32(rec) != c.xid || binary.BigEndian.Uint32(rec[8:]) != 0 {
		return nil, errors.New("bad or denied reply")
	}
	verfLen := binary.BigEndian.Uint32(rec[16:])
	rest := rec[20+(verfLen+3)&^3:]
	if len(rest) < 4 || binary.BigEndian.Uint32(rest) != 0 {
		return nil, fmt.Errorf("call %d/%d not accepted", prog, proc)
	}
	return rest[4:], nil
}

func xdrString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	b = append(b, s...)
	return append(b, make([]byte, (4-len(s)&3)&3)...)
}

func xdrOpaque(p []byte) ([]byte, []byte, error) {
	if len(p) < 4 {
		return nil, nil, errors.New("short reply")
	}
	n := binary.BigEndian.Uint32(p)
	if uint32(len(p)-4) < n {
		return nil, nil, errors.New("short reply")
	}
	return p[4 : 4+n], p[4+(n+3)&^3:], nil
}

// mount asks MOUNT on port for export's root handle.
func mountAt(port int, export string) ([]byte, error) {
	c, err := dialRawNFS(port)
	if err != nil {
		return nil, err
	}
	defer c.nc.Close()
	return c.mount(export)
}

func (c *rawNFS) mount(export string) ([]byte, error) {
	res, err := c.call(100005, 3, 1, xdrString(nil, export))
	if err != nil {
		return nil, err
	}
	if len(res) < 4 || binary.BigEndian.Uint32(res) != 0 {
		return nil, fmt.Errorf("MNT %s refused", export)
	}
	fh, _, err := xdrOpaque(res[4:])
	return append([]byte(nil), fh...), err
}

// nfs calls NFSv3 procedure proc and returns its reply, which must say
// NFS3_OK and be at least minLen bytes long; what names the call in errors.
func (c *rawNFS) nfs(proc uint32, args []byte, minLen int, what string) ([]byte, error) {
	res, err := c.call(100003, 3, proc, args)
	if err != nil {
		return nil, err
	}
	if len(res) < minLen || binary.BigEndian.Uint32(res) != 0 {
		return nil, fmt.Errorf("%s failed", what)
	}
	return res, nil
}

func (c *rawNFS) lookup(dir []byte, name string) ([]byte, error) {
	args := xdrString(nil, string(dir))
	args = xdrString(args, name)
	res, err := c.nfs(3, args, 4, "LOOKUP "+name)
	if err != nil {
		return nil, err
	}
	fh, _, err := xdrOpaque(res[4:])
	return append([]byte(nil), fh...), err
}

func (c *rawNFS) read(fh []byte, off uint64, count uint32) error {
	args := xdrString(make([]byte, 0, 96), string(fh))
	args = binary.BigEndian.AppendUint64(args, off)
	args = binary.BigEndian.AppendUint32(args, count)
	res, err := c.nfs(6, args, 8, "READ")
	if err != nil {
		return err
	}
	p := res[4:]
	if binary.BigEndian.Uint32(p) == 1 { // post_op_attr
		p = p[4+84:]
	} else {
		p = p[4:]
	}
	if len(p) < 12 || binary.BigEndian.Uint32(p) != count {
		return fmt.Errorf("READ returned %d bytes, want %d", binary.BigEndian.Uint32(p), count)
	}
	return nil
}

// sattrMode is a sattr3 setting only the mode.
func sattrMode(b []byte, mode uint32) []byte {
	for _, v := range []uint32{1, mode, 0, 0, 0, 0, 0} { // mode; no uid, gid, size; atime, mtime unchanged
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// makeNode calls CREATE (proc 8, UNCHECKED) or MKDIR (proc 9) of name in
// dir with mode and returns the new handle.
func (c *rawNFS) makeNode(proc uint32, dir []byte, name string, mode uint32) ([]byte, error) {
	args := xdrString(nil, string(dir))
	args = xdrString(args, name)
	if proc == 8 {
		args = binary.BigEndian.AppendUint32(args, 0) // UNCHECKED
	}
	args = sattrMode(args, mode)
	res, err := c.nfs(proc, args, 8, "CREATE/MKDIR "+name)
	if err != nil {
		return nil, err
	}
	if binary.BigEndian.Uint32(res[4:]) != 1 {
		return nil, fmt.Errorf("CREATE/MKDIR %s: no handle in the reply", name)
	}
	fh, _, err := xdrOpaque(res[8:])
	return append([]byte(nil), fh...), err
}

// write sends data at offset 0 of fh as one WRITE UNSTABLE.
func (c *rawNFS) write(fh, data []byte) error {
	args := xdrString(make([]byte, 0, 96+len(data)), string(fh))
	args = binary.BigEndian.AppendUint64(args, 0)
	args = binary.BigEndian.AppendUint32(args, uint32(len(data)))
	args = binary.BigEndian.AppendUint32(args, 0) // UNSTABLE
	args = xdrString(args, string(data))
	_, err := c.nfs(7, args, 4, "WRITE")
	return err
}

// commit asks for everything written to fh to be on disk.
func (c *rawNFS) commit(fh []byte) error {
	args := xdrString(make([]byte, 0, 80), string(fh))
	args = binary.BigEndian.AppendUint64(args, 0)
	args = binary.BigEndian.AppendUint32(args, 0)
	_, err := c.nfs(21, args, 4, "COMMIT")
	return err
}

// getattr asks for fh's attributes.
func (c *rawNFS) getattr(fh []byte) error {
	_, err := c.nfs(1, xdrString(make([]byte, 0, 80), string(fh)), 4+84, "GETATTR")
	return err
}

// listDir reads all of dir by READDIR (or READDIRPLUS when plus), count
// bytes of reply per call, and returns the number of entries other than
// "." and "..".
func (c *rawNFS) listDir(dir []byte, plus bool, count uint32) (int, error) {
	var cookie uint64
	var verf [8]byte
	n := 0
	for {
		args := xdrString(make([]byte, 0, 96), string(dir))
		args = binary.BigEndian.AppendUint64(args, cookie)
		args = append(args, verf[:]...)
		proc, what := uint32(16), "READDIR"
		if plus {
			proc, what = 17, "READDIRPLUS"
			args = binary.BigEndian.AppendUint32(args, count) // dircount
		}
		args = binary.BigEndian.AppendUint32(args, count)
		res, err := c.nfs(proc, args, 8, what)
		if err != nil {
			return n, err
		}
		p, err := skipPostOpAttr(res[4:])
		if err != nil || len(p) < 12 {
			return n, fmt.Errorf("%s: short reply", what)
		}
		copy(verf[:], p)
		p = p[8:]
		got := 0
		for {
			if len(p) < 4 {
				return n, fmt.Errorf("%s: short reply", what)
			}
			follows := binary.BigEndian.Uint32(p)
			p = p[4:]
			if follows == 0 {
				break
			}
			if len(p) < 8 {
				return n, fmt.Errorf("%s: short reply", what)
			}
			var name []byte
			if name, p, err = xdrOpaque(p[8:]); err != nil || len(p) < 8 {
				return n, fmt.Errorf("%s: short reply", what)
			}
			cookie = binary.BigEndian.Uint64(p)
			p = p[8:]
			if plus {
				if p, err = skipPostOpAttr(p); err != nil || len(p) < 4 {
					return n, fmt.Errorf("%s: short reply", what)
				}
				follows, p = binary.BigEndian.Uint32(p), p[4:]
				if follows != 0 {
					if _, p, err = xdrOpaque(p); err != nil {
						return n, err
					}
				}
			}
			if s := string(name); s != "." && s != ".." {
				n++
			}
			got++
		}
		if len(p) < 4 {
			return n, fmt.Errorf("%s: short reply", what)
		}
		if binary.BigEndian.Uint32(p) != 0 { // eof
			return n, nil
		}
		if got == 0 {
			return n, fmt.Errorf("%s: no entries and no eof", what)
		}
	}
}

// skipPostOpAttr returns what follows a post_op_attr at the start of p.
func skipPostOpAttr(p []byte) ([]byte, error) {
	if len(p) < 4 {
		return nil, errors.New("short reply")
	}
	if binary.BigEndian.Uint32(p) == 0 {
		return p[4:], nil
	}
	if len(p) < 4+84 {
		return nil, errors.New("short reply")
	}
	return p[4+84:], nil
}
