package nfsd

import (
	"slices"
	"sync/atomic"
	"time"
)

// The server counts and times its calls itself, by program and
// procedure, with atomics, so a scrape of the metrics never waits for a
// call.

var nfsProcNames = [...]string{"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
	"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK", "READDIR",
	"READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"}

var mountProcNames = [...]string{"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"}

// rpcBuckets are the upper bounds, in seconds, of the latency histogram,
// wide enough for a cache hit and for a call waiting on a slow backend.
var rpcBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// RPCBuckets returns the upper bounds, in seconds, of the latency
// histogram of ProcStats.Buckets.
func RPCBuckets() []float64 { return slices.Clone(rpcBuckets[:]) }

// ProcStats are the counters of one RPC procedure.
type ProcStats struct {
	// Program is "nfs", "mount" or "other" (any other program, or an
	// unknown procedure number).
	Program string
	// Proc is the procedure's name, such as "READ", or "" for other.
	Proc string
	// Calls counts the calls received; Replies those answered and timed.
	Calls, Replies int64
	// Total is the time from call to reply, summed over Replies.
	Total time.Duration
	// Buckets[i] counts replies within RPCBuckets()[i] seconds
	// (cumulative, as Prometheus wants).
	Buckets []int64
}

// procCounters are the counters of one procedure.
type procCounters struct {
	calls, replies, nanos atomic.Int64
	buckets               [len(rpcBuckets)]atomic.Int64 // not cumulative; +Inf is replies
}

func (c *procCounters) observe(d time.Duration) {
	c.replies.Add(1)
	c.nanos.Add(int64(d))
	sec := d.Seconds()
	for i, b := range rpcBuckets {
		if sec <= b {
			c.buckets[i].Add(1)
			return
		}
	}
}

func (c *procCounters) snapshot(prog, proc string) ProcStats {
	p := ProcStats{Program: prog, Proc: proc, Calls: c.calls.Load(), Replies: c.replies.Load(),
		Total: time.Duration(c.nanos.Load()), Buckets: make([]int64, len(rpcBuckets))}
	var sum int64
	for i := range p.Buckets {
		sum += c.buckets[i].Load()
		p.Buckets[i] = sum
	}
	return p
}

// rpcStats are a Server's counters.
type rpcStats struct {
	nfs   [len(nfsProcNames)]procCounters
	mount [len(mountProcNames)]procCounters
	other procCounters
}

// counters returns the counters of a call, by program and procedure
// whatever the version asked: an NFSv2 GETATTR counts as GETATTR.
func (s *rpcStats) counters(prog, proc uint32) *procCounters {
	switch {
	case prog == progNFS && proc < uint32(len(s.nfs)):
		return &s.nfs[proc]
	case prog == progMount && proc < uint32(len(s.mount)):
		return &s.mount[proc]
	}
	return &s.other
}

// RPCStats returns the counters by procedure: every NFSv3 procedure,
// every MOUNT procedure, then "other".
func (s *Server) RPCStats() []ProcStats {
	st := &s.rpc
	out := make([]ProcStats, 0, len(st.nfs)+len(st.mount)+1)
	for i := range st.nfs {
		out = append(out, st.nfs[i].snapshot("nfs", nfsProcNames[i]))
	}
	for i := range st.mount {
		out = append(out, st.mount[i].snapshot("mount", mountProcNames[i]))
	}
	return append(out, st.other.snapshot("other", ""))
}
