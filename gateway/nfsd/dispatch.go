package nfsd

import (
	"context"
	"errors"
	"time"
)

// RPC programs served.
const (
	progPortmap = 100000
	progNFS     = 100003
	progMount   = 100005
	progNLM     = 100021
)

// call is one request being answered.
type call struct {
	s    *Server
	conn *conn
	x    *export // the export of the call's first handle, else the first
	h    callHeader
	cred cred // after the export's squash rules
	ctx  context.Context
	e    encoder // the reply, after the record mark

	// payload is READ data sent after e.b, from payloadBuf.
	payload    []byte
	payloadBuf *[]byte

	// counters are the call's procedure's, once dispatch counted it;
	// send times the reply from start.
	counters *procCounters
	start    time.Time
}

func (r *call) releasePayload() {
	if r.payloadBuf != nil {
		putBuf(r.payloadBuf)
		r.payloadBuf, r.payload = nil, nil
	}
}

// procFunc decodes a procedure's arguments from d and appends its result
// to r.e (after the accepted header). errGarbage means the arguments
// did not decode; nothing must have been done then.
type procFunc func(r *call, d *decoder) error

var (
	nfsProcs   []procFunc
	mountProcs []procFunc
	pmapProcs  []procFunc
)

func init() {
	nfsProcs = []procFunc{
		0: procNull, 1: nfsGetattr, 2: nfsSetattr, 3: nfsLookup, 4: nfsAccess,
		5: nfsReadlink, 6: nfsRead, 7: nfsWrite, 8: nfsCreate, 9: nfsMkdir,
		10: nfsSymlink, 11: nfsMknod, 12: nfsRemove, 13: nfsRmdir, 14: nfsRename,
		15: nfsLink, 16: nfsReaddir, 17: nfsReaddirplus, 18: nfsFsstat,
		19: nfsFsinfo, 20: nfsPathconf, 21: nfsCommit,
	}
	mountProcs = []procFunc{
		0: procNull, 1: mountMnt, 2: mountDump, 3: mountUmnt, 4: mountUmntall, 5: mountExport,
	}
	pmapProcs = []procFunc{0: procNull, 3: pmapGetport, 4: pmapDump}
}

func procNull(*call, *decoder) error { return nil }

// callHeaderLen covers xid, message type, RPC version, program, version
// and procedure: what a call needs to be counted.
const callHeaderLen = 24

// dispatch decodes rec and writes the reply into r.e; false when the
// record gets no reply (not a call, or too short to have an xid).
func (r *call) dispatch(rec []byte) bool {
	d := decoder{b: rec}
	h, err := decodeCall(&d)
	r.h = h
	if !errors.Is(err, errNotCall) && len(rec) >= callHeaderLen {
		r.count()
	}
	switch {
	case errors.Is(err, errNotCall) || len(rec) < 4:
		return false
	case err != nil:
		replyAccepted(&r.e, h.xid, acceptGarbageArgs)
		return true
	case h.rpcvers != rpcVersion:
		replyDenied(&r.e, h.xid, rejectRPCMismatch, 0)
		return true
	case h.badCred:
		replyDenied(&r.e, h.xid, rejectAuthError, authBadCred)
		return true
	}
	var procs []procFunc
	switch h.prog {
	case progNFS:
		procs = nfsProcs
		if h.vers != 3 {
			r.mismatch(3, 3)
			return true
		}
	case progMount:
		procs = mountProcs
		switch {
		case h.vers < 1 || h.vers > 3:
			r.mismatch(1, 3)
			return true
		case h.vers != 3 && h.proc == 1:
			// MNT v1/v2 would return an NFSv2 handle: unsupported.
			// Their DUMP, UMNT and EXPORT are v3's (showmount asks v1).
			replyAccepted(&r.e, h.xid, acceptProcUnavail)
			return true
		}
	case progPortmap:
		procs = pmapProcs
		if h.vers != 2 {
			r.mismatch(2, 2)
			return true
		}
	default:
		// NLM among them: no lock manager, so lock calls fail at once
		// (clients mount with nolock or local_lock=all).
		replyAccepted(&r.e, h.xid, acceptProgUnavail)
		return true
	}
	if h.proc >= uint32(len(procs)) || procs[h.proc] == nil {
		replyAccepted(&r.e, h.xid, acceptProcUnavail)
		return true
	}
	r.x = r.s.exports[0]
	if h.prog == progNFS && h.proc != 0 {
		// Every NFSv3 procedure's arguments start with a handle: its
		// export serves the call. A handle of no export stays with the
		// first, whose resolve answers BADHANDLE or STALE.
		peek := d
		if fh, ok := parseHandle(peek.fh()); ok && peek.err == nil {
			if x := r.s.byID[fh.ExportID]; x != nil {
				r.x = x
			}
		}
	}
	if h.proc != 0 && h.prog == progNFS && !r.conn.allowed[r.x.idx] {
		// A client outside the export's list (or on an insecure port
		// when the export is secure) gets no file system at all.
		replyDenied(&r.e, h.xid, rejectAuthError, authTooWeak)
		return true
	}
	r.cred = r.x.identity(&h.cred)
	ctx, cancel := context.WithTimeout(r.s.life, r.s.cfg.OpTimeout)
	defer cancel()
	r.ctx = ctx
	replyAccepted(&r.e, h.xid, acceptSuccess)
	if err := procs[h.proc](r, &d); err != nil {
		r.releasePayload()
		replyAccepted(&r.e, h.xid, acceptGarbageArgs)
	}
	return true
}

// nfsResFail is, by NFSv3 procedure, how many FALSE booleans make its
// resfail body (RFC 1813) one without attributes: a post_op_attr is one,
// a wcc_data two; RENAME has two wcc_data, LINK a post_op_attr and a
// wcc_data.
var nfsResFail = [...]uint8{1: 0, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2, 10: 2, 11: 2,
	12: 2, 13: 2, 14: 4, 15: 3, 16: 1, 17: 1, 18: 1, 19: 1, 20: 1, 21: 2}

// panicked replaces the reply of a call whose procedure panicked: an
// NFSv3 procedure fails with NFS3ERR_IO, so the application sees EIO
// for that one call, as for a disk error, where an RPC-level SYSTEM_ERR
// may make the client send the call again. Other programs get
// SYSTEM_ERR.
func (r *call) panicked() {
	if r.h.prog == progNFS && r.h.vers == 3 && r.h.proc > 0 && int(r.h.proc) < len(nfsResFail) {
		replyAccepted(&r.e, r.h.xid, acceptSuccess)
		r.status(nfs3ErrIO)
		for range nfsResFail[r.h.proc] {
			r.e.bool(false)
		}
		return
	}
	replyAccepted(&r.e, r.h.xid, acceptSystemErr)
}

// count counts the call by its program and procedure, refused ones too,
// so the metrics show what clients ask for; an RPC version other than 2
// has no program or procedure to count by.
func (r *call) count() {
	if r.h.rpcvers != rpcVersion {
		return
	}
	r.counters = r.s.rpc.counters(r.h.prog, r.h.proc)
	r.counters.calls.Add(1)
}

func (r *call) mismatch(low, high uint32) {
	replyAccepted(&r.e, r.h.xid, acceptProgMismatch)
	r.e.uint32(low)
	r.e.uint32(high)
}

// identity applies the export's squash rules to the caller's credentials.
func (x *export) identity(c *cred) cred {
	anon := cred{flavor: c.flavor, uid: x.AnonUID, gid: x.AnonGID}
	switch {
	case c.flavor != authFlavUnix, x.Squash == SquashAll:
		return anon
	case x.Squash == SquashNone:
		return *c
	}
	out := *c
	if out.uid == 0 {
		out.uid = x.AnonUID
	}
	if out.gid == 0 {
		out.gid = x.AnonGID
	}
	for i, g := range out.gids[:out.ngids] {
		if g == 0 {
			out.gids[i] = x.AnonGID
		}
	}
	return out
}
