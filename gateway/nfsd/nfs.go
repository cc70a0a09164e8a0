package nfsd

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"math"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache"
)

// maxNameArg bounds the names and paths decoded from requests; longer
// ones are garbage. Names over 255 bytes decode and get NAMETOOLONG from
// the cache.
const maxNameArg = 4096

// write stability (stable_how).
const (
	unstable = 0
	dataSync = 1
	fileSync = 2
)

// createhow3 modes.
const (
	createUnchecked = 0
	createGuarded   = 1
	createExclusive = 2
)

func (d *decoder) fh() []byte { return d.opaque(maxHandle) }

func (r *call) fsid() uint32 { return r.x.ID }

func (r *call) readOnly() bool { return r.x.ReadOnly }

func (r *call) status(st uint32) { r.e.uint32(st) }

func (r *call) handle(a *cache.Attr) fileHandle {
	return fileHandle{ExportID: r.fsid(), Ino: a.Ino, Gen: a.Gen}
}

// resolve turns a handle into the inode's attributes: BADHANDLE for
// bytes we never made, STALE for another export, a removed inode or an
// older generation.
func (r *call) resolve(fh []byte) (cache.Attr, uint32) {
	h, ok := parseHandle(fh)
	if !ok {
		return cache.Attr{}, nfs3ErrBadHandle
	}
	if h.ExportID != r.fsid() {
		return cache.Attr{}, nfs3ErrStale
	}
	a, err := r.x.c.GetAttr(r.ctx, h.Ino)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) {
			return a, nfs3ErrStale
		}
		return a, status(err)
	}
	if a.Gen != h.Gen {
		return a, nfs3ErrStale
	}
	return a, nfs3OK
}

// resolveTarget resolves the second handle of RENAME or LINK: one of
// another export of this server is XDEV, as between two file systems
// (mv then copies and removes), not STALE.
func (r *call) resolveTarget(fh []byte) (cache.Attr, uint32) {
	if h, ok := parseHandle(fh); ok && h.ExportID != r.fsid() && r.s.byID[h.ExportID] != nil {
		return cache.Attr{}, nfs3ErrXDev
	}
	return r.resolve(fh)
}

// attr is the current attributes of ino for a post_op_attr, or nil.
func (r *call) attr(ino cache.Ino) *cache.Attr {
	a, err := r.x.c.GetAttr(r.ctx, ino)
	if err != nil {
		return nil
	}
	return &a
}

func nfsGetattr(r *call, d *decoder) error {
	fh := d.fh()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	r.status(st)
	if st == nfs3OK {
		r.e.fattr(&a, r.fsid())
	}
	return nil
}

func nfsSetattr(r *call, d *decoder) error {
	fh := d.fh()
	s := d.sattr()
	var guard bool
	var gsec, gnsec uint32
	if guard = d.bool(); guard {
		gsec, gnsec = d.uint32(), d.uint32()
	}
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	if st != nfs3OK {
		r.status(st)
		r.e.wcc(nil, nil, r.fsid())
		return nil
	}
	fail := func(st uint32) error {
		r.status(st)
		r.e.wcc(&a, &a, r.fsid())
		return nil
	}
	if guard {
		var g encoder
		g.time(a.Ctime)
		var want encoder
		want.uint32(gsec)
		want.uint32(gnsec)
		if string(g.b) != string(want.b) {
			return fail(nfs3ErrNotSync)
		}
	}
	if s.empty() {
		return fail(nfs3OK)
	}
	if r.readOnly() {
		return fail(nfs3ErrROFS)
	}
	set := s.toSetAttr()
	if st := r.cred.checkSetattr(&a, &s, &set); st != nfs3OK {
		return fail(st)
	}
	ch, err := r.x.c.SetAttr(r.ctx, a.Ino, set)
	if err != nil {
		r.status(status(err))
		r.e.wcc(&a, r.attr(a.Ino), r.fsid())
		return nil
	}
	r.status(nfs3OK)
	r.e.change(&ch, r.fsid())
	return nil
}

// toSetAttr is s as the cache's SetAttr.
func (s *sattr) toSetAttr() cache.SetAttr {
	var set cache.SetAttr
	if s.mode != nil {
		m := goMode(*s.mode)
		set.Mode = &m
	}
	set.UID, set.GID = s.uid, s.gid
	if s.size != nil {
		if *s.size > math.MaxInt64 {
			v := int64(math.MaxInt64)
			set.Size = &v
		} else {
			v := int64(*s.size)
			set.Size = &v
		}
	}
	now := time.Now()
	switch s.atimeHow {
	case setToServerTime:
		set.Atime = &now
	case setToClientTime:
		set.Atime = &s.atime
	}
	switch s.mtHow {
	case setToServerTime:
		set.Mtime = &now
	case setToClientTime:
		set.Mtime = &s.mtime
	}
	return set
}

// dirArgs resolves a diropargs3's directory and checks that it is one
// the caller may search (and, with write, change). On failure it has
// written the status and the directory's wcc_data (or post_op_attr when
// postOnly) and returns false.
func (r *call) dirArgs(fh []byte, write, postOnly bool) (cache.Attr, bool) {
	dir, st := r.resolve(fh)
	var dp *cache.Attr
	if st == nfs3OK {
		dp = &dir
		switch {
		case !dir.IsDir():
			st = nfs3ErrNotDir
		case write && r.readOnly():
			st = nfs3ErrROFS
		case !r.cred.may(&dir, mayExec):
			st = nfs3ErrAcces
		case write && !r.cred.may(&dir, mayWrite):
			st = nfs3ErrAcces
		}
	}
	if st == nfs3OK {
		return dir, true
	}
	r.status(st)
	if postOnly {
		r.e.postOpAttr(dp, r.fsid())
	} else {
		r.e.wcc(dp, dp, r.fsid())
	}
	return dir, false
}

func nfsLookup(r *call, d *decoder) error {
	fh, name := d.fh(), d.string(maxNameArg)
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, false, true)
	if !ok {
		return nil
	}
	a, err := r.x.c.Lookup(r.ctx, dir.Ino, name)
	if err != nil {
		r.status(status(err))
		r.e.postOpAttr(r.attr(dir.Ino), r.fsid())
		return nil
	}
	r.status(nfs3OK)
	h := r.handle(&a)
	r.e.uint32(handleLen)
	r.e.b = h.append(r.e.b)
	r.e.postOpAttr(&a, r.fsid())
	r.e.postOpAttr(&dir, r.fsid())
	return nil
}

func nfsAccess(r *call, d *decoder) error {
	fh, want := d.fh(), d.uint32()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	r.status(st)
	if st != nfs3OK {
		r.e.postOpAttr(nil, r.fsid())
		return nil
	}
	r.e.postOpAttr(&a, r.fsid())
	r.e.uint32(r.cred.access(&a, want, r.readOnly()))
	return nil
}

func nfsReadlink(r *call, d *decoder) error {
	fh := d.fh()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	if st == nfs3OK && a.Mode&fs.ModeSymlink == 0 {
		st = nfs3ErrInval
	}
	var target string
	if st == nfs3OK {
		var err error
		target, err = r.x.c.Readlink(r.ctx, a.Ino)
		st = status(err)
	}
	r.status(st)
	if a.Ino == 0 {
		r.e.postOpAttr(nil, r.fsid())
	} else {
		r.e.postOpAttr(&a, r.fsid())
	}
	if st == nfs3OK {
		r.e.string(target)
	}
	return nil
}

func nfsRead(r *call, d *decoder) error {
	fh, off, count := d.fh(), d.uint64(), d.uint32()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	if st == nfs3OK {
		switch {
		case a.IsDir():
			st = nfs3ErrIsDir
		case !a.Mode.IsRegular():
			st = nfs3ErrInval
		case !r.cred.mayReadData(&a):
			st = nfs3ErrAcces
		case off > math.MaxInt64:
			st = nfs3ErrInval
		}
	}
	if st != nfs3OK {
		r.status(st)
		if a.Ino == 0 {
			r.e.postOpAttr(nil, r.fsid())
		} else {
			r.e.postOpAttr(&a, r.fsid())
		}
		return nil
	}
	count = min(count, maxIO)
	n, eof := 0, true
	if count > 0 && int64(off) < a.Size {
		r.payloadBuf = getLarge()
		var err error
		n, err = r.x.c.ReadAt(r.ctx, a.Ino, (*r.payloadBuf)[:count], int64(off))
		switch {
		case errors.Is(err, io.EOF):
		case err != nil:
			r.releasePayload()
			r.status(status(err))
			r.e.postOpAttr(r.attr(a.Ino), r.fsid())
			return nil
		default:
			eof = int64(off)+int64(n) >= a.Size
		}
		r.payload = (*r.payloadBuf)[:n]
	}
	r.status(nfs3OK)
	r.e.postOpAttr(&a, r.fsid())
	r.e.uint32(uint32(n))
	r.e.bool(eof)
	r.e.uint32(uint32(n)) // the opaque's length; its bytes follow in payload
	return nil
}

func nfsWrite(r *call, d *decoder) error {
	fh, off, count, how := d.fh(), d.uint64(), d.uint32(), d.uint32()
	data := d.opaque(maxIO)
	if d.err != nil || how > fileSync || int(count) > len(data) {
		return errGarbage
	}
	data = data[:count]
	a, st := r.resolve(fh)
	if st == nfs3OK {
		switch {
		case r.readOnly():
			st = nfs3ErrROFS
		case a.IsDir():
			st = nfs3ErrIsDir
		case !a.Mode.IsRegular():
			st = nfs3ErrInval
		case !r.cred.mayWriteData(&a):
			st = nfs3ErrAcces
		case off > math.MaxInt64 || int64(off)+int64(count) < 0:
			st = nfs3ErrFBig
		}
	}
	if st != nfs3OK {
		r.status(st)
		if a.Ino == 0 {
			r.e.wcc(nil, nil, r.fsid())
		} else {
			r.e.wcc(&a, &a, r.fsid())
		}
		return nil
	}
	// An UNSTABLE write is stored at COMMIT, not now: a stream of them
	// costs no namespace transaction each. A stable one is the same
	// write and its COMMIT, which stores size and data in one
	// transaction (for a small file, its content too, with no fsync).
	// A write by anyone but root drops setuid and setgid, as on Linux.
	opts := cache.WriteOpts{Stable: how != unstable, KillSetID: r.cred.uid != 0}
	n, ch, err := r.x.c.Write(r.ctx, a.Ino, data, int64(off), opts)
	if err != nil {
		r.status(status(err))
		r.e.wcc(&a, r.attr(a.Ino), r.fsid())
		return nil
	}
	committed := uint32(unstable)
	if opts.Stable {
		committed = fileSync
	}
	r.status(nfs3OK)
	r.e.change(&ch, r.fsid())
	r.e.uint32(uint32(n))
	r.e.uint32(committed)
	r.e.fixed(r.s.verf[:])
	return nil
}

// created writes the reply of CREATE, MKDIR, SYMLINK and MKNOD: dc is
// the change the call made to dir, zero when it made none (an existing
// file that CREATE accepts).
func (r *call) created(dir *cache.Attr, a *cache.Attr, dc *cache.Change, err error) {
	if err != nil {
		r.status(status(err))
		r.e.wcc(dir, r.attr(dir.Ino), r.fsid())
		return
	}
	r.status(nfs3OK)
	h := r.handle(a)
	r.e.postOpFH(&h)
	r.e.postOpAttr(a, r.fsid())
	if dc.After.Ino == 0 {
		r.e.wcc(dir, r.attr(dir.Ino), r.fsid())
		return
	}
	r.e.change(dc, r.fsid())
}

// newAttr is what an inode the caller makes in dir gets from set (s as
// the cache's SetAttr) in the call that makes it, rather than in a
// SETATTR after: the mode s asks for, or def; the caller's owner and
// group (newOwner), or those s gives where the caller may give them
// (root any, others a group of theirs); and the times s asks for.
func (r *call) newAttr(dir *cache.Attr, s *sattr, set *cache.SetAttr, def fs.FileMode) cache.NewAttr {
	uid, gid := r.cred.newOwner(dir)
	na := cache.NewAttr{Mode: r.newMode(s, def, gid), UID: uid, GID: gid}
	if set.UID != nil && r.cred.uid == 0 {
		na.UID = *set.UID
	}
	if set.GID != nil && (r.cred.uid == 0 || r.cred.inGroup(*set.GID)) {
		na.GID = *set.GID
	}
	if set.Atime != nil {
		na.Atime = *set.Atime
	}
	if set.Mtime != nil {
		na.Mtime = *set.Mtime
	}
	return na
}

// newMode is the permission bits of a new inode: those asked for, or
// def; setgid is dropped for a caller outside the new group.
func (r *call) newMode(s *sattr, def fs.FileMode, gid uint32) fs.FileMode {
	m := def
	if s.mode != nil {
		m = goMode(*s.mode)
	}
	if r.cred.uid != 0 && !r.cred.inGroup(gid) {
		m &^= fs.ModeSetgid
	}
	return m
}

func nfsCreate(r *call, d *decoder) error {
	fh, name := d.fh(), d.string(maxNameArg)
	how := d.uint32()
	var s sattr
	var verf []byte
	switch how {
	case createUnchecked, createGuarded:
		s = d.sattr()
	case createExclusive:
		verf = d.fixed(8)
	default:
		d.fail()
	}
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, true, false)
	if !ok {
		return nil
	}
	set := s.toSetAttr()
	na := r.newAttr(&dir, &s, &set, 0o644)
	var vm, va time.Time
	if how == createExclusive {
		// knfsd's layout: the verifier's halves in mtime and atime
		// seconds, until the client's SETATTR replaces them.
		vm = time.Unix(int64(binary.BigEndian.Uint32(verf[0:4])&0x7fffffff), 0)
		va = time.Unix(int64(binary.BigEndian.Uint32(verf[4:8])&0x7fffffff), 0)
		na.Mode = 0o600
		na.Atime, na.Mtime = va, vm // in the create's own transaction
	}
	a, dc, err := r.x.c.Create(r.ctx, dir.Ino, name, na)
	switch {
	case err == nil && set.Size != nil && *set.Size != 0:
		// A size needs the data file: a SETATTR of its own, with the
		// times again, as it sets mtime.
		set.Mode, set.UID, set.GID = nil, nil, nil
		var ch cache.Change
		ch, err = r.x.c.SetAttr(r.ctx, a.Ino, set)
		a = ch.After
	case errors.Is(err, syscall.EEXIST) && how != createGuarded:
		a, err = r.createExisting(&dir, name, how, &s, va, vm)
	}
	r.created(&dir, &a, &dc, err)
	return nil
}

// createExisting is CREATE of a name that exists: UNCHECKED succeeds on a
// regular file, truncating it when a size is given; EXCLUSIVE succeeds
// when the file carries this very verifier (a retransmission).
func (r *call) createExisting(dir *cache.Attr, name string, how uint32, s *sattr, va, vm time.Time) (cache.Attr, error) {
	a, err := r.x.c.Lookup(r.ctx, dir.Ino, name)
	if err != nil {
		return a, err
	}
	if !a.Mode.IsRegular() {
		return a, syscall.EEXIST
	}
	if how == createExclusive {
		if a.Atime.Unix() == va.Unix() && a.Mtime.Unix() == vm.Unix() {
			return a, nil
		}
		return a, syscall.EEXIST
	}
	if s.size == nil {
		return a, nil
	}
	if !r.cred.mayWriteData(&a) {
		return a, syscall.EACCES
	}
	size := int64(min(*s.size, math.MaxInt64))
	ch, err := r.x.c.SetAttr(r.ctx, a.Ino, cache.SetAttr{Size: &size})
	return ch.After, err
}

func nfsMkdir(r *call, d *decoder) error {
	fh, name := d.fh(), d.string(maxNameArg)
	s := d.sattr()
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, true, false)
	if !ok {
		return nil
	}
	set := s.toSetAttr()
	na := r.newAttr(&dir, &s, &set, 0o755)
	if dir.Mode&fs.ModeSetgid != 0 {
		na.Mode |= fs.ModeSetgid // inherited, like the group
	}
	a, dc, err := r.x.c.Mkdir(r.ctx, dir.Ino, name, na)
	r.created(&dir, &a, &dc, err)
	return nil
}

func nfsSymlink(r *call, d *decoder) error {
	fh, name := d.fh(), d.string(maxNameArg)
	s := d.sattr()
	target := d.string(maxNameArg)
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, true, false)
	if !ok {
		return nil
	}
	set := s.toSetAttr()
	na := r.newAttr(&dir, &s, &set, 0o777)
	na.Mode = 0o777 // a symlink's mode means nothing
	a, dc, err := r.x.c.Symlink(r.ctx, dir.Ino, name, target, na)
	r.created(&dir, &a, &dc, err)
	return nil
}

func nfsMknod(r *call, d *decoder) error {
	fh, name := d.fh(), d.string(maxNameArg)
	typ := d.uint32()
	var s sattr
	var major, minor uint32
	var mode fs.FileMode
	switch typ {
	case nf3Chr, nf3Blk:
		s = d.sattr()
		major, minor = d.uint32(), d.uint32()
		mode = fs.ModeDevice
		if typ == nf3Chr {
			mode |= fs.ModeCharDevice
		}
	case nf3Sock:
		s = d.sattr()
		mode = fs.ModeSocket
	case nf3Fifo:
		s = d.sattr()
		mode = fs.ModeNamedPipe
	case nf3Reg, nf3Dir, nf3Lnk:
	default:
		d.fail()
	}
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, true, false)
	if !ok {
		return nil
	}
	var a cache.Attr
	var dc cache.Change
	var err error
	switch {
	case mode == 0:
		err = errBadType
	case mode&fs.ModeDevice != 0 && r.cred.uid != 0:
		err = syscall.EPERM
	default:
		set := s.toSetAttr()
		na := r.newAttr(&dir, &s, &set, 0o644)
		na.Mode |= mode
		na.Major, na.Minor = major, minor
		a, dc, err = r.x.c.Create(r.ctx, dir.Ino, name, na)
	}
	if errors.Is(err, errBadType) {
		r.status(nfs3ErrBadType)
		r.e.wcc(&dir, &dir, r.fsid())
		return nil
	}
	r.created(&dir, &a, &dc, err)
	return nil
}

var errBadType = errors.New("nfsd: mknod of a type it does not make")

func nfsRemove(r *call, d *decoder) error { return r.remove(d, false) }
func nfsRmdir(r *call, d *decoder) error  { return r.remove(d, true) }

func (r *call) remove(d *decoder, isDir bool) error {
	fh, name := d.fh(), d.string(maxNameArg)
	if d.err != nil {
		return d.err
	}
	dir, ok := r.dirArgs(fh, true, false)
	if !ok {
		return nil
	}
	var dc cache.Change
	err := r.checkSticky(&dir, name)
	if err == nil {
		if isDir {
			dc, err = r.x.c.Rmdir(r.ctx, dir.Ino, name)
		} else {
			dc, err = r.x.c.Remove(r.ctx, dir.Ino, name)
		}
	}
	if err != nil {
		r.status(status(err))
		r.e.wcc(&dir, r.attr(dir.Ino), r.fsid())
		return nil
	}
	r.status(nfs3OK)
	r.e.change(&dc, r.fsid())
	return nil
}

// checkSticky applies the sticky-directory rule to name in dir.
func (r *call) checkSticky(dir *cache.Attr, name string) error {
	if dir.Mode&fs.ModeSticky == 0 || r.cred.uid == 0 || r.cred.uid == dir.UID {
		return nil
	}
	child, err := r.x.c.Lookup(r.ctx, dir.Ino, name)
	if err != nil {
		return err
	}
	if !r.cred.mayDelete(dir, &child) {
		return syscall.EPERM
	}
	return nil
}

func nfsRename(r *call, d *decoder) error {
	ffh, fname := d.fh(), d.string(maxNameArg)
	tfh, tname := d.fh(), d.string(maxNameArg)
	if d.err != nil {
		return d.err
	}
	from, fst := r.resolve(ffh)
	to, tst := r.resolveTarget(tfh)
	st := fst
	if st == nfs3OK {
		st = tst
	}
	var fp, tp *cache.Attr
	if fst == nfs3OK {
		fp = &from
	}
	if tst == nfs3OK {
		tp = &to
	}
	if st == nfs3OK {
		st = r.checkRename(&from, fname, &to, tname)
	}
	if st == nfs3OK {
		fc, tc, err := r.x.c.Rename(r.ctx, from.Ino, fname, to.Ino, tname)
		if err == nil {
			r.status(nfs3OK)
			r.e.change(&fc, r.fsid())
			r.e.change(&tc, r.fsid())
			return nil
		}
		st = status(err)
		fp, tp = r.attr(from.Ino), r.attr(to.Ino)
	}
	r.status(st)
	r.e.wcc(ptrIf(fst == nfs3OK, &from), fp, r.fsid())
	r.e.wcc(ptrIf(tst == nfs3OK, &to), tp, r.fsid())
	return nil
}

func ptrIf(ok bool, a *cache.Attr) *cache.Attr {
	if ok {
		return a
	}
	return nil
}

// checkRename applies rename(2)'s permission rules: write and search on
// both directories, the sticky rule on the source and on a destination
// that exists, and write on a directory that changes parent (its ".."
// changes).
func (r *call) checkRename(from *cache.Attr, fname string, to *cache.Attr, tname string) uint32 {
	switch {
	case !from.IsDir() || !to.IsDir():
		return nfs3ErrNotDir
	case r.readOnly():
		return nfs3ErrROFS
	case !r.cred.may(from, mayWrite|mayExec) || !r.cred.may(to, mayWrite|mayExec):
		return nfs3ErrAcces
	}
	if r.cred.uid == 0 {
		return nfs3OK
	}
	src, err := r.x.c.Lookup(r.ctx, from.Ino, fname)
	if err != nil {
		return status(err)
	}
	if !r.cred.mayDelete(from, &src) {
		return nfs3ErrPerm
	}
	if dst, err := r.x.c.Lookup(r.ctx, to.Ino, tname); err == nil && !r.cred.mayDelete(to, &dst) {
		return nfs3ErrPerm
	}
	if src.IsDir() && from.Ino != to.Ino && !r.cred.may(&src, mayWrite) {
		return nfs3ErrAcces
	}
	return nfs3OK
}

func nfsLink(r *call, d *decoder) error {
	ffh := d.fh()
	dfh, name := d.fh(), d.string(maxNameArg)
	if d.err != nil {
		return d.err
	}
	file, st := r.resolve(ffh)
	var fp *cache.Attr
	if st == nfs3OK {
		fp = &file
	}
	dir, dst := r.resolveTarget(dfh)
	if st == nfs3OK {
		st = dst
	}
	if st == nfs3OK {
		switch {
		case !dir.IsDir():
			st = nfs3ErrNotDir
		case r.readOnly():
			st = nfs3ErrROFS
		case !r.cred.may(&dir, mayWrite|mayExec):
			st = nfs3ErrAcces
		case file.IsDir():
			st = nfs3ErrIsDir
		}
	}
	var dirAfter *cache.Attr
	if st == nfs3OK {
		a, dc, err := r.x.c.Link(r.ctx, file.Ino, dir.Ino, name)
		if err == nil {
			r.status(nfs3OK)
			r.e.postOpAttr(&a, r.fsid())
			r.e.change(&dc, r.fsid())
			return nil
		}
		st = status(err)
		dirAfter = r.attr(dir.Ino)
	} else if dst == nfs3OK {
		dirAfter = &dir
	}
	r.status(st)
	r.e.postOpAttr(fp, r.fsid())
	r.e.wcc(ptrIf(dst == nfs3OK, &dir), dirAfter, r.fsid())
	return nil
}

func nfsCommit(r *call, d *decoder) error {
	fh := d.fh()
	d.uint64() // offset and count: the whole file is synced
	d.uint32()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	if st == nfs3OK {
		switch {
		case a.IsDir():
			st = nfs3ErrIsDir
		case !a.Mode.IsRegular():
			st = nfs3ErrInval
		default:
			after, err := r.x.c.Commit(r.ctx, a.Ino)
			if st = status(err); st == nfs3OK && after.Ino != 0 {
				a = after // a commit changes no attribute: before and after
			}
		}
	}
	r.status(st)
	if a.Ino == 0 {
		r.e.wcc(nil, nil, r.fsid())
	} else {
		r.e.wcc(&a, &a, r.fsid())
	}
	if st == nfs3OK {
		r.e.fixed(r.s.verf[:])
	}
	return nil
}

func nfsFsstat(r *call, d *decoder) error {
	fh := d.fh()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	var fs cache.FSStat
	if st == nfs3OK {
		var err error
		fs, err = r.x.c.StatFS(r.ctx)
		st = status(err)
	}
	r.status(st)
	r.e.postOpAttr(ptrIf(a.Ino != 0, &a), r.fsid())
	if st == nfs3OK {
		r.e.uint64(fs.TotalBytes)
		r.e.uint64(fs.FreeBytes)
		r.e.uint64(fs.AvailBytes)
		r.e.uint64(fs.TotalFiles)
		r.e.uint64(fs.FreeFiles)
		r.e.uint64(fs.FreeFiles) // afiles
		r.e.uint32(0)            // invarsec
	}
	return nil
}

// FSINFO properties.
const (
	fsf3Link        = 0x01
	fsf3Symlink     = 0x02
	fsf3Homogeneous = 0x08
	fsf3CanSetTime  = 0x10
)

func nfsFsinfo(r *call, d *decoder) error {
	fh := d.fh()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	r.status(st)
	r.e.postOpAttr(ptrIf(st == nfs3OK, &a), r.fsid())
	if st == nfs3OK {
		r.e.uint32(maxIO)    // rtmax
		r.e.uint32(maxIO)    // rtpref
		r.e.uint32(4096)     // rtmult
		r.e.uint32(maxIO)    // wtmax
		r.e.uint32(maxIO)    // wtpref
		r.e.uint32(4096)     // wtmult
		r.e.uint32(64 << 10) // dtpref
		r.e.uint64(math.MaxInt64)
		r.e.uint32(0) // time_delta: 1 ns
		r.e.uint32(1)
		r.e.uint32(fsf3Link | fsf3Symlink | fsf3Homogeneous | fsf3CanSetTime)
	}
	return nil
}

func nfsPathconf(r *call, d *decoder) error {
	fh := d.fh()
	if d.err != nil {
		return d.err
	}
	a, st := r.resolve(fh)
	r.status(st)
	r.e.postOpAttr(ptrIf(st == nfs3OK, &a), r.fsid())
	if st == nfs3OK {
		r.e.uint32(math.MaxUint32) // linkmax: nlink is 32 bits
		r.e.uint32(255)            // name_max
		r.e.bool(true)             // no_trunc
		r.e.bool(true)             // chown_restricted
		r.e.bool(false)            // case_insensitive
		r.e.bool(true)             // case_preserving
	}
	return nil
}
