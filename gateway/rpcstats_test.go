package gateway

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"testing"
)

// record frames body as one record in fragments of the given sizes (the
// rest in a last fragment).
func record(body []byte, frags ...int) []byte {
	var out []byte
	for _, n := range frags {
		n = min(n, len(body))
		out = binary.BigEndian.AppendUint32(out, uint32(n))
		out = append(out, body[:n]...)
		body = body[n:]
	}
	out = binary.BigEndian.AppendUint32(out, uint32(len(body))|1<<31)
	return append(out, body...)
}

func callBody(xid, prog, vers, proc uint32, argBytes int) []byte {
	var b []byte
	for _, v := range []uint32{xid, 0, 2, prog, vers, proc, 0, 0, 0, 0} { // + AUTH_NONE cred, verf
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return append(b, make([]byte, argBytes)...)
}

func replyBody(xid uint32) []byte {
	var b []byte
	for _, v := range []uint32{xid, 1, 0, 0, 0, 0} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

func TestRecordParser(t *testing.T) {
	call := callBody(7, progNFS, 3, 6, 100) // READ
	tests := []struct {
		name   string
		stream []byte
		heads  int
	}{
		{"one fragment", record(call), 1},
		{"header split over fragments", record(call, 3, 10, 0, 5), 1},
		{"empty first fragments", record(call, 0, 0), 1},
		{"two records", append(record(call), record(call, 20)...), 2},
		{"short record", record([]byte{1, 2, 3}), 1},
		{"empty record", record(nil), 1},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 3, 7, len(tt.stream)} {
			var got [][]byte
			p := recordParser{onRecord: func(h []byte) { got = append(got, bytes.Clone(h)) }}
			for b := tt.stream; len(b) > 0; {
				k := min(step, len(b))
				p.feed(b[:k])
				b = b[k:]
			}
			if len(got) != tt.heads || p.records != tt.heads {
				t.Errorf("%s, step %d: %d heads, %d records, want %d", tt.name, step, len(got), p.records, tt.heads)
				continue
			}
			if len(got[0]) >= headerLen {
				h, ok := parseCall(got[0])
				if !ok || h != (callHeader{xid: 7, prog: progNFS, vers: 3, proc: 6}) {
					t.Errorf("%s, step %d: header %+v %v", tt.name, step, h, ok)
				}
			}
		}
	}
}

func TestTapTimesCalls(t *testing.T) {
	s := new(rpcStats)
	tap := newRPCTap(s)
	in := append(record(callBody(1, progNFS, 3, 1, 40)), record(callBody(2, progNFS, 3, 6, 40), 10)...)
	in = append(in, record(callBody(3, progMount, 3, 1, 10))...)
	in = append(in, record(callBody(4, 999, 1, 0, 0))...)
	tap.read(in)
	if got := len(tap.inflight); got != 4 {
		t.Fatalf("%d calls in flight, want 4", got)
	}
	out := append(record(replyBody(2)), record(replyBody(1))...)
	out = append(out, record(replyBody(3))...)
	out = append(out, record(replyBody(99))...) // no such call
	for _, b := range out {
		tap.wrote([]byte{b})
	}
	if got := len(tap.inflight); got != 1 {
		t.Fatalf("%d calls in flight after the replies, want 1", got)
	}
	byName := map[string]ProcStats{}
	for _, p := range s.snapshot() {
		byName[p.Program+"."+p.Proc] = p
	}
	for name, want := range map[string][2]int64{"nfs.GETATTR": {1, 1}, "nfs.READ": {1, 1}, "mount.MNT": {1, 1}, "other.": {1, 0}, "nfs.WRITE": {0, 0}} {
		p := byName[name]
		if p.Calls != want[0] || p.Replies != want[1] {
			t.Errorf("%s: calls %d replies %d, want %v", name, p.Calls, p.Replies, want)
		}
		if p.Replies > 0 && p.Buckets[len(p.Buckets)-1] != p.Replies {
			t.Errorf("%s: last bucket %d, want all %d replies", name, p.Buckets[len(p.Buckets)-1], p.Replies)
		}
	}
}

func TestTapBoundsInflight(t *testing.T) {
	tap := newRPCTap(new(rpcStats))
	for i := range maxInflight + 100 {
		tap.read(record(callBody(uint32(i), progNFS, 3, 0, 0)))
	}
	if len(tap.inflight) != maxInflight {
		t.Errorf("%d in flight, want the bound %d", len(tap.inflight), maxInflight)
	}
	if got := tap.stats.nfs[0].calls.Load(); got != maxInflight+100 {
		t.Errorf("%d calls counted", got)
	}
}

// FuzzRecordParser feeds any stream, whole and in pieces: it must never
// panic, hand the same heads either way, and keep the map bounded.
func FuzzRecordParser(f *testing.F) {
	f.Add(record(callBody(1, progNFS, 3, 6, 20), 5), uint8(3))
	f.Add(append(record(replyBody(5)), 0x80, 0, 0), uint8(1))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2}, uint8(2))
	f.Fuzz(func(t *testing.T, stream []byte, step uint8) {
		var whole, pieces [][]byte
		p1 := recordParser{onRecord: func(h []byte) { whole = append(whole, bytes.Clone(h)) }}
		p1.feed(stream)
		p2 := recordParser{onRecord: func(h []byte) { pieces = append(pieces, bytes.Clone(h)) }}
		n := int(step%16) + 1
		for b := stream; len(b) > 0; {
			k := min(n, len(b))
			p2.feed(b[:k])
			b = b[k:]
		}
		if len(whole) != len(pieces) {
			t.Fatalf("%d heads whole, %d in pieces of %d", len(whole), len(pieces), n)
		}
		for i := range whole {
			if !bytes.Equal(whole[i], pieces[i]) {
				t.Fatalf("head %d differs: %x vs %x", i, whole[i], pieces[i])
			}
		}
		tap := newRPCTap(new(rpcStats))
		tap.read(stream)
		tap.wrote(stream)
		if len(tap.inflight) > maxInflight || tap.broken.Load() {
			t.Fatalf("inflight %d broken %v", len(tap.inflight), tap.broken.Load())
		}
	})
}

func TestRPCMeterListener(t *testing.T) {
	m := NewRPCMeter()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ml := m.Listener(l)
	defer ml.Close()
	done := make(chan error, 1)
	go func() {
		c, err := ml.Accept()
		if err != nil {
			done <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		call := record(callBody(9, progNFS, 3, 7, 64)) // WRITE
		got := 0
		for got < len(call) {
			n, err := c.Read(buf)
			if err != nil {
				done <- err
				return
			}
			got += n
		}
		_, err = c.Write(record(replyBody(9)))
		done <- err
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(record(callBody(9, progNFS, 3, 7, 64))); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 4+24)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Stats() {
		if p.Proc == "WRITE" && (p.Calls != 1 || p.Replies != 1) {
			t.Errorf("WRITE: %+v", p)
		}
	}
}
