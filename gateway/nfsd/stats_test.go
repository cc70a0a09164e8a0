package nfsd

import (
	"encoding/binary"
	"testing"
	"time"
)

// statsByName keys s's counters by "program.proc".
func statsByName(s []ProcStats) map[string]ProcStats {
	out := map[string]ProcStats{}
	for _, p := range s {
		out[p.Program+"."+p.Proc] = p
	}
	return out
}

// TestRPCStats: every call is counted by program and procedure as it is
// dispatched, refused ones too, and timed once its reply is written;
// records that are no call with an RPC version 2 header count nowhere.
func TestRPCStats(t *testing.T) {
	e := newEnv(t)
	e.writeFile("/f", []byte("hello"))
	fh := e.lookupPath("/f")
	srv := e.srv
	// The env's own client is done: its calls were all counted (dispatch
	// counts before it replies), though not yet all timed.
	before := statsByName(srv.RPCStats())

	c := e.raw()
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}
	if st, _ := c.nfs(t, rootCred, 6, new(args).fh(fh).u64(0).u32(5).bytes()); st != 0 { // READ
		t.Fatalf("READ: %d", st)
	}
	if st, _, _ := write(t, c, rootCred, fh, 0, fileSync, []byte("hi")); st != 0 {
		t.Fatalf("WRITE: %d", st)
	}
	if r := c.call(t, progMount, 3, 1, rootCred, new(args).name("/").bytes()); r.accept != 0 || r.d.uint32() != mnt3OK {
		t.Fatal("MNT failed")
	}
	// Counted under the program and procedure asked, whatever the
	// answer: an unknown program is "other", an NFSv2 GETATTR is
	// GETATTR.
	if r := c.call(t, 999, 1, 0, nil, nil); r.accept != acceptProgUnavail {
		t.Fatalf("program 999: accept %d", r.accept)
	}
	if r := c.call(t, progNFS, 2, 1, nil, nil); r.accept != acceptProgMismatch {
		t.Fatalf("NFSv2: accept %d", r.accept)
	}
	// Not counted: RPC version 3, a record too short to name a procedure
	// (both answered), a record that is no call (dropped).
	xid, b := c.callHdr(progNFS, 3, 0, rootCred)
	binary.BigEndian.PutUint32(b[12:], 3)
	recordMark(b, 0)
	ch, err := c.send(xid, b)
	must(t, err)
	waitReply(t, ch)
	ch, err = c.send(0xdead, []byte{0x80, 0, 0, 8, 0, 0, 0xde, 0xad, 0, 0, 0, msgCall})
	must(t, err)
	waitReply(t, ch)
	_, b = c.callHdr(progNFS, 3, 0, rootCred)
	binary.BigEndian.PutUint32(b[8:], msgReply)
	recordMark(b, 0)
	_, err = c.nc.Write(b)
	must(t, err)
	// The connection still answers, so the records above were read.
	if _, st := getattr(t, c, rootCred, e.rootFH); st != 0 {
		t.Fatal(st)
	}

	// Closing the server waits for every reply to be written, so every
	// reply is timed by now.
	e.stop()
	after := srv.RPCStats()
	want := map[string]int64{"nfs.GETATTR": 3, "nfs.READ": 1, "nfs.WRITE": 1, "mount.MNT": 1, "other.": 1}
	var total int64
	for _, p := range after {
		name := p.Program + "." + p.Proc
		calls := p.Calls - before[name].Calls
		total += calls
		if w, ok := want[name]; ok && calls != w {
			t.Errorf("%s: %d calls, want %d", name, calls, w)
		}
		if p.Replies != p.Calls {
			t.Errorf("%s: %d replies timed for %d calls", name, p.Replies, p.Calls)
		}
		if p.Replies > 0 && (p.Buckets[len(p.Buckets)-1] > p.Replies || p.Total <= 0) {
			t.Errorf("%s: buckets %v total %v for %d replies", name, p.Buckets, p.Total, p.Replies)
		}
	}
	if total != 7 {
		t.Errorf("%d calls counted, want the 7 above", total)
	}
	if n := len(RPCBuckets()); n != len(after[0].Buckets) {
		t.Errorf("%d buckets, %d bounds", len(after[0].Buckets), n)
	}
}

// TestProcCountersObserve: a reply lands in the first bucket whose bound
// it is within, and the buckets come out cumulative.
func TestProcCountersObserve(t *testing.T) {
	var c procCounters
	for _, d := range []time.Duration{50 * time.Microsecond, 100 * time.Microsecond, 3 * time.Millisecond, time.Minute} {
		c.observe(d)
	}
	p := c.snapshot("nfs", "READ")
	b := RPCBuckets()
	at := func(sec float64) int64 {
		for i, ub := range b {
			if ub == sec {
				return p.Buckets[i]
			}
		}
		t.Fatalf("no bucket %g", sec)
		return 0
	}
	if p.Replies != 4 || at(0.0001) != 2 || at(0.0025) != 2 || at(0.005) != 3 || at(30) != 3 {
		t.Errorf("replies %d buckets %v", p.Replies, p.Buckets)
	}
	if want := time.Minute + 3*time.Millisecond + 150*time.Microsecond; p.Total != want {
		t.Errorf("total %v, want %v", p.Total, want)
	}
}
