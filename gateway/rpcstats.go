package gateway

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// The RPC counts and latencies by procedure come from the byte stream
// itself, so they need no hook in the server: every accepted connection
// parses a copy of what it reads (ONC RPC record marking, RFC 5531 §11,
// then the call header: xid, CALL, RPC version 2, program, version,
// procedure) and of what it writes (the reply's xid), and times each
// call from the read of its header to the write of its reply. The bytes
// server reads and writes are never changed, delayed or held back; a
// stream the parser cannot follow only makes its numbers wrong.

// RPC program numbers.
const (
	progNFS   = 100003
	progMount = 100005
)

var nfsProcNames = []string{"NULL", "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",
	"WRITE", "CREATE", "MKDIR", "SYMLINK", "MKNOD", "REMOVE", "RMDIR", "RENAME", "LINK", "READDIR",
	"READDIRPLUS", "FSSTAT", "FSINFO", "PATHCONF", "COMMIT"}

var mountProcNames = []string{"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"}

// RPCBuckets are the upper bounds, in seconds, of the latency histogram
// of ProcStats.Buckets.
var RPCBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// maxInflight bounds the calls awaiting a reply tracked per connection;
// calls past it are counted but not timed.
const maxInflight = 1024

// procCounters are the counters of one procedure.
type procCounters struct {
	calls, replies, nanos atomic.Int64
	buckets               [17]atomic.Int64 // len(RPCBuckets); +Inf is replies
}

// rpcStats counts the calls of every connection of an RPCMeter.
type rpcStats struct {
	nfs   [22]procCounters
	mount [6]procCounters
	other procCounters
}

func (s *rpcStats) counters(prog, proc uint32) *procCounters {
	switch {
	case prog == progNFS && int(proc) < len(s.nfs):
		return &s.nfs[proc]
	case prog == progMount && int(proc) < len(s.mount):
		return &s.mount[proc]
	}
	return &s.other
}

// ProcStats are the counters of one RPC procedure.
type ProcStats struct {
	// Program is "nfs", "mount" or "other" (any other program, or an
	// unknown procedure number).
	Program string
	// Proc is the procedure's name, such as "READ", or "" for other.
	Proc string
	// Calls counts the calls read; Replies those answered and timed.
	Calls, Replies int64
	// Total is the time from call to reply, summed over Replies.
	Total time.Duration
	// Buckets[i] counts replies within RPCBuckets[i] seconds
	// (cumulative, as Prometheus wants).
	Buckets []int64
}

func (c *procCounters) snapshot(prog, proc string) ProcStats {
	p := ProcStats{Program: prog, Proc: proc, Calls: c.calls.Load(), Replies: c.replies.Load(),
		Total: time.Duration(c.nanos.Load()), Buckets: make([]int64, len(RPCBuckets))}
	var sum int64
	for i := range p.Buckets {
		sum += c.buckets[i].Load()
		p.Buckets[i] = sum
	}
	return p
}

func (s *rpcStats) snapshot() []ProcStats {
	out := make([]ProcStats, 0, len(s.nfs)+len(s.mount)+1)
	for i := range s.nfs {
		out = append(out, s.nfs[i].snapshot("nfs", nfsProcNames[i]))
	}
	for i := range s.mount {
		out = append(out, s.mount[i].snapshot("mount", mountProcNames[i]))
	}
	return append(out, s.other.snapshot("other", ""))
}

func (c *procCounters) observe(d time.Duration) {
	c.replies.Add(1)
	c.nanos.Add(int64(d))
	sec := d.Seconds()
	for i, b := range RPCBuckets {
		if sec <= b {
			c.buckets[i].Add(1)
			return
		}
	}
}

// recordParser follows ONC RPC record marking in a byte stream fed to
// it piecewise, and hands each record's first headerLen bytes (fewer if
// the record is shorter) to onRecord.
type recordParser struct {
	hdr      [4]byte
	hdrN     int    // bytes of the fragment header collected
	remain   uint32 // bytes left in the current fragment
	inFrag   bool   // a fragment header was read and its body is running
	last     bool   // the current fragment ends the record
	head     [headerLen]byte
	headN    int
	handed   bool // onRecord was called for this record
	records  int  // records seen, for tests
	onRecord func(head []byte)
}

// headerLen covers xid, message type, RPC version, program, version and
// procedure of a call.
const headerLen = 24

// feed parses b, which it never modifies nor keeps.
func (p *recordParser) feed(b []byte) {
	for len(b) > 0 {
		if !p.inFrag {
			k := copy(p.hdr[p.hdrN:], b)
			p.hdrN += k
			b = b[k:]
			if p.hdrN < 4 {
				return
			}
			p.hdrN = 0
			v := binary.BigEndian.Uint32(p.hdr[:])
			p.last = v&(1<<31) != 0
			p.remain = v &^ (1 << 31)
			p.inFrag = true
			if p.remain == 0 {
				p.endFragment()
			}
			continue
		}
		k := min(uint32(len(b)), p.remain)
		if !p.handed && p.headN < headerLen {
			p.headN += copy(p.head[p.headN:], b[:k])
			if p.headN == headerLen {
				p.hand()
			}
		}
		p.remain -= k
		b = b[k:]
		if p.remain == 0 {
			p.endFragment()
		}
	}
}

func (p *recordParser) endFragment() {
	p.inFrag = false
	if !p.last {
		return
	}
	if !p.handed {
		p.hand()
	}
	p.records++
	p.headN, p.handed = 0, false
}

func (p *recordParser) hand() {
	p.handed = true
	if p.onRecord != nil {
		p.onRecord(p.head[:p.headN])
	}
}

// callHeader is the start of an RPC call.
type callHeader struct {
	xid, prog, vers, proc uint32
}

// parseCall decodes the first 24 bytes of a record as a call; false if
// they are not one.
func parseCall(head []byte) (callHeader, bool) {
	if len(head) < headerLen {
		return callHeader{}, false
	}
	u := func(i int) uint32 { return binary.BigEndian.Uint32(head[4*i:]) }
	if u(1) != 0 || u(2) != 2 { // CALL, RPC version 2
		return callHeader{}, false
	}
	return callHeader{xid: u(0), prog: u(3), vers: u(4), proc: u(5)}, true
}

// parseReplyXID decodes the xid of a reply record; false if it is not
// one.
func parseReplyXID(head []byte) (uint32, bool) {
	if len(head) < 8 || binary.BigEndian.Uint32(head[4:]) != 1 { // REPLY
		return 0, false
	}
	return binary.BigEndian.Uint32(head), true
}

type pendingCall struct {
	c     *procCounters
	start time.Time
}

// rpcTap times the calls of one connection.
type rpcTap struct {
	stats    *rpcStats
	in, out  recordParser
	mu       sync.Mutex
	inflight map[uint32]pendingCall
	broken   atomic.Bool // a parser panicked: stop tapping
}

func newRPCTap(s *rpcStats) *rpcTap {
	t := &rpcTap{stats: s, inflight: map[uint32]pendingCall{}}
	t.in.onRecord = t.call
	t.out.onRecord = t.reply
	return t
}

func (t *rpcTap) call(head []byte) {
	h, ok := parseCall(head)
	if !ok {
		return
	}
	c := t.stats.counters(h.prog, h.proc)
	c.calls.Add(1)
	t.mu.Lock()
	if len(t.inflight) < maxInflight {
		t.inflight[h.xid] = pendingCall{c: c, start: time.Now()}
	}
	t.mu.Unlock()
}

func (t *rpcTap) reply(head []byte) {
	xid, ok := parseReplyXID(head)
	if !ok {
		return
	}
	t.mu.Lock()
	p, ok := t.inflight[xid]
	delete(t.inflight, xid)
	t.mu.Unlock()
	if ok {
		p.c.observe(time.Since(p.start))
	}
}

// read and wrote feed the bytes a connection read or wrote. A server
// reads a connection from one goroutine and writes it one reply at a
// time (gateway/nfsd does), so each parser has one user at a time.
func (t *rpcTap) read(b []byte)  { t.feed(&t.in, b) }
func (t *rpcTap) wrote(b []byte) { t.feed(&t.out, b) }

func (t *rpcTap) feed(p *recordParser, b []byte) {
	if t.broken.Load() {
		return
	}
	defer func() {
		if recover() != nil {
			t.broken.Store(true)
		}
	}()
	p.feed(b)
}

// RPCMeter counts and times the ONC RPC calls on the connections of the
// listeners it wraps, for a server that has no hook per call
// (gateway/nfsd behind filegate serve).
type RPCMeter struct {
	stats rpcStats
}

// NewRPCMeter returns a meter with every counter at zero.
func NewRPCMeter() *RPCMeter { return new(RPCMeter) }

// Listener wraps l: every connection it accepts is metered.
func (m *RPCMeter) Listener(l net.Listener) net.Listener { return &meteredListener{Listener: l, m: m} }

// Stats returns the counters by procedure: every NFSv3 and MOUNT
// procedure, then "other".
func (m *RPCMeter) Stats() []ProcStats { return m.stats.snapshot() }

type meteredListener struct {
	net.Listener
	m *RPCMeter
}

func (l *meteredListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &meteredConn{Conn: c, tap: newRPCTap(&l.m.stats)}, nil
}

type meteredConn struct {
	net.Conn
	tap *rpcTap
}

func (c *meteredConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.tap.read(p[:n])
	}
	return n, err
}

func (c *meteredConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		c.tap.wrote(p[:n])
	}
	return n, err
}
