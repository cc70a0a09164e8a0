package nfsd

import (
	"io/fs"
	"time"

	"github.com/filegate/filegate/cache"
)

// ftype3 values.
const (
	nf3Reg  = 1
	nf3Dir  = 2
	nf3Blk  = 3
	nf3Chr  = 4
	nf3Lnk  = 5
	nf3Sock = 6
	nf3Fifo = 7
)

// fattrLen is the encoded size of fattr3.
const fattrLen = 84

func ftype(m fs.FileMode) uint32 {
	switch {
	case m.IsDir():
		return nf3Dir
	case m&fs.ModeSymlink != 0:
		return nf3Lnk
	case m&fs.ModeNamedPipe != 0:
		return nf3Fifo
	case m&fs.ModeSocket != 0:
		return nf3Sock
	case m&fs.ModeCharDevice != 0:
		return nf3Chr
	case m&fs.ModeDevice != 0:
		return nf3Blk
	}
	return nf3Reg
}

// unixMode is m's permission bits as mode3: 0777 plus setuid 04000,
// setgid 02000, sticky 01000.
func unixMode(m fs.FileMode) uint32 {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// goMode is the inverse of unixMode for the permission bits.
func goMode(v uint32) fs.FileMode {
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// nfsTime splits t into nfstime3 (seconds since 1970 as uint32);
// times outside its range are clamped.
func (e *encoder) time(t time.Time) {
	s := t.Unix()
	ns := uint32(t.Nanosecond())
	switch {
	case s < 0:
		s, ns = 0, 0
	case s > 1<<32-1:
		s, ns = 1<<32-1, 999999999
	}
	e.uint32(uint32(s))
	e.uint32(ns)
}

// fattr encodes fattr3. fileid is the inode number; fsid the export id.
func (e *encoder) fattr(a *cache.Attr, fsid uint32) {
	e.uint32(ftype(a.Mode))
	e.uint32(unixMode(a.Mode))
	e.uint32(a.Nlink)
	e.uint32(a.UID)
	e.uint32(a.GID)
	e.uint64(uint64(a.Size))
	e.uint64(uint64((a.Size + 4095) &^ 4095)) // used: in whole blocks
	e.uint32(a.Major)
	e.uint32(a.Minor)
	e.uint64(uint64(fsid))
	e.uint64(uint64(a.Ino))
	e.time(a.Atime)
	e.time(a.Mtime)
	e.time(a.Ctime)
}

// postOpAttr encodes post_op_attr: the attributes when a is not nil.
func (e *encoder) postOpAttr(a *cache.Attr, fsid uint32) {
	if a == nil {
		e.bool(false)
		return
	}
	e.bool(true)
	e.fattr(a, fsid)
}

// wcc encodes wcc_data: pre_op_attr from before (size, mtime, ctime),
// post_op_attr from after; nil ones are absent.
func (e *encoder) wcc(before, after *cache.Attr, fsid uint32) {
	if before == nil {
		e.bool(false)
	} else {
		e.bool(true)
		e.uint64(uint64(before.Size))
		e.time(before.Mtime)
		e.time(before.Ctime)
	}
	e.postOpAttr(after, fsid)
}

// change encodes wcc_data from a cache call's Change; a zero Attr in it
// is absent.
func (e *encoder) change(ch *cache.Change, fsid uint32) {
	e.wcc(ptrIf(ch.Before.Ino != 0, &ch.Before), ptrIf(ch.After.Ino != 0, &ch.After), fsid)
}

// postOpFH encodes post_op_fh3.
func (e *encoder) postOpFH(h *fileHandle) {
	if h == nil {
		e.bool(false)
		return
	}
	e.bool(true)
	e.uint32(handleLen)
	e.b = h.append(e.b)
}

// time_how values of sattr3.
const (
	dontChange      = 0
	setToServerTime = 1
	setToClientTime = 2
)

// sattr is a decoded sattr3.
type sattr struct {
	mode            *uint32
	uid, gid        *uint32
	size            *uint64
	atimeHow, mtHow uint32
	atime, mtime    time.Time
	modeV, uidV     uint32
	gidV            uint32
	sizeV           uint64
}

func (d *decoder) sattr() (s sattr) {
	if d.bool() {
		s.modeV = d.uint32()
		s.mode = &s.modeV
	}
	if d.bool() {
		s.uidV = d.uint32()
		s.uid = &s.uidV
	}
	if d.bool() {
		s.gidV = d.uint32()
		s.gid = &s.gidV
	}
	if d.bool() {
		s.sizeV = d.uint64()
		s.size = &s.sizeV
	}
	s.atimeHow, s.atime = d.timeHow()
	s.mtHow, s.mtime = d.timeHow()
	return s
}

func (d *decoder) timeHow() (uint32, time.Time) {
	how := d.uint32()
	switch how {
	case dontChange, setToServerTime:
		return how, time.Time{}
	case setToClientTime:
		s, ns := d.uint32(), d.uint32()
		if ns >= 1e9 {
			d.fail()
		}
		return how, time.Unix(int64(s), int64(ns))
	}
	d.fail()
	return 0, time.Time{}
}

// empty reports whether s changes nothing.
func (s *sattr) empty() bool {
	return s.mode == nil && s.uid == nil && s.gid == nil && s.size == nil &&
		s.atimeHow == dontChange && s.mtHow == dontChange
}
