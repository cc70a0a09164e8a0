package nfsd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ONC RPC v2 (RFC 5531) constants.
const (
	rpcVersion = 2

	msgCall  = 0
	msgReply = 1

	msgAccepted = 0
	msgDenied   = 1

	acceptSuccess      = 0
	acceptProgUnavail  = 1
	acceptProgMismatch = 2
	acceptProcUnavail  = 3
	acceptGarbageArgs  = 4
	acceptSystemErr    = 5

	rejectRPCMismatch = 0
	rejectAuthError   = 1

	authBadCred  = 1
	authTooWeak  = 5
	authFlavNone = 0
	authFlavUnix = 1

	// maxAuthBody is the largest opaque_auth body (RFC 5531).
	maxAuthBody = 400
	// maxMachineName bounds AUTH_UNIX's machinename (RFC 5531: 255).
	maxMachineName = 255
	// maxGroups is AUTH_UNIX's limit of supplementary groups.
	maxGroups = 16
)

// Buffer sizes. A request record is read into a small buffer, or a large
// one when it carries a WRITE; a READ reply's data goes out from a large
// one. Both come from pools, so no request allocates its payload.
const (
	// maxIO is rtmax and wtmax: the largest READ and WRITE.
	maxIO = 1 << 20
	// smallBuf is the size of request buffers for everything but WRITE
	// and of reply buffers (READDIR grows its own up to maxReply).
	smallBuf = 64 << 10
	// maxRecord caps a request record: the largest WRITE plus its
	// headers (call header, credentials up to 2×400 bytes, handle,
	// offsets). Larger records end the connection: a client that sends
	// them is not speaking NFSv3 with the limits FSINFO gave it.
	maxRecord = maxIO + 4<<10
	// maxReply caps READDIR/READDIRPLUS replies (their maxcount).
	maxReply = maxIO
)

var (
	smallPool = sync.Pool{New: func() any { b := make([]byte, smallBuf); return &b }}
	largePool = sync.Pool{New: func() any { b := make([]byte, maxRecord); return &b }}
)

func getSmall() *[]byte { return smallPool.Get().(*[]byte) }
func getLarge() *[]byte { return largePool.Get().(*[]byte) }

// putBuf returns b to the pool its capacity belongs to; anything else
// (a READDIR reply that grew) is left to the collector.
func putBuf(b *[]byte) {
	switch cap(*b) {
	case smallBuf:
		*b = (*b)[:smallBuf]
		smallPool.Put(b)
	case maxRecord:
		*b = (*b)[:maxRecord]
		largePool.Put(b)
	}
}

var errRecordTooLarge = errors.New("nfsd: record over the size limit")

// readRecord reads one RPC record (RFC 5531 §11: fragments of at most
// 2^31-1 bytes, the last one flagged) into a pooled buffer and returns
// the buffer and the record's length. A record of more than max bytes is
// an error: nothing of it is buffered beyond max, the connection must be
// dropped.
func readRecord(r io.Reader, max int) (*[]byte, int, error) {
	buf := getSmall()
	n := 0
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			putBuf(buf)
			if n > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		h := binary.BigEndian.Uint32(hdr[:])
		last, size := h&(1<<31) != 0, int(h&^(1<<31))
		if n+size > max {
			putBuf(buf)
			return nil, 0, fmt.Errorf("%w: %d bytes and more, limit %d", errRecordTooLarge, n+size, max)
		}
		if n+size > len(*buf) {
			big := getLarge()
			copy(*big, (*buf)[:n])
			putBuf(buf)
			buf = big
		}
		if _, err := io.ReadFull(r, (*buf)[n:n+size]); err != nil {
			putBuf(buf)
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, 0, err
		}
		n += size
		if last {
			return buf, n, nil
		}
	}
}

// cred is the caller's identity: from AUTH_UNIX, or anonymous.
type cred struct {
	flavor uint32
	uid    uint32
	gid    uint32
	ngids  int
	gids   [maxGroups]uint32
}

// inGroup reports whether g is the caller's group or one of its
// supplementary groups.
func (c *cred) inGroup(g uint32) bool {
	if c.gid == g {
		return true
	}
	for _, x := range c.gids[:c.ngids] {
		if x == g {
			return true
		}
	}
	return false
}

// callHeader is the part of an RPC call before the procedure's arguments.
type callHeader struct {
	xid, rpcvers, prog, vers, proc uint32
	cred                           cred
	badCred                        bool // a flavor or AUTH_UNIX body we cannot use
}

// errNotCall is a record that is not an RPC call: dropped unanswered.
var errNotCall = errors.New("nfsd: not an RPC call")

// decodeCall decodes the call header of rec. With an error, h.xid is set
// when the record had one (so garbage can still be answered).
func decodeCall(d *decoder) (h callHeader, err error) {
	h.xid = d.uint32()
	if d.err != nil {
		return h, d.err
	}
	if d.uint32() != msgCall {
		return h, errNotCall
	}
	h.rpcvers = d.uint32()
	h.prog = d.uint32()
	h.vers = d.uint32()
	h.proc = d.uint32()
	flavor := d.uint32()
	body := d.opaque(maxAuthBody)
	d.uint32() // verifier flavor: AUTH_NONE or whatever, not checked
	d.opaque(maxAuthBody)
	if d.err != nil {
		return h, d.err
	}
	h.cred.flavor = flavor
	switch flavor {
	case authFlavNone:
	case authFlavUnix:
		h.badCred = !decodeAuthUnix(body, &h.cred)
	default:
		h.badCred = true
	}
	return h, nil
}

// decodeAuthUnix decodes an authsys_parms body into c.
func decodeAuthUnix(body []byte, c *cred) bool {
	d := decoder{b: body}
	d.uint32()               // stamp
	d.opaque(maxMachineName) // machinename
	c.uid = d.uint32()
	c.gid = d.uint32()
	n := d.uint32()
	if d.err != nil || n > maxGroups {
		return false
	}
	c.ngids = int(n)
	for i := range c.ngids {
		c.gids[i] = d.uint32()
	}
	return d.err == nil && d.off == len(body)
}

// Reply headers: record mark (filled in by recordMark once the reply is
// complete), xid, REPLY, and the accepted or denied part.

// replyAccepted starts a reply with the accept status st into e, after
// the 4 bytes kept for the record mark.
func replyAccepted(e *encoder, xid, st uint32) {
	e.b = e.b[:4]
	e.uint32(xid)
	e.uint32(msgReply)
	e.uint32(msgAccepted)
	e.uint32(authFlavNone) // verifier
	e.uint32(0)
	e.uint32(st)
}

// replyDenied writes a rejected reply: RPC_MISMATCH (low = high = 2) or
// AUTH_ERROR with the auth status.
func replyDenied(e *encoder, xid, reject, stat uint32) {
	e.b = e.b[:4]
	e.uint32(xid)
	e.uint32(msgReply)
	e.uint32(msgDenied)
	e.uint32(reject)
	if reject == rejectRPCMismatch {
		e.uint32(rpcVersion)
		e.uint32(rpcVersion)
	} else {
		e.uint32(stat)
	}
}

// recordMark fills in the 4-byte record mark at the start of b for a
// record of len(b)-4+extra bytes, sent as one last fragment.
func recordMark(b []byte, extra int) {
	binary.BigEndian.PutUint32(b, uint32(len(b)-4+extra)|1<<31)
}
