package nfsd

import (
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache"
)

// createhow3 modes.
const (
	createUnchecked = 0
	createGuarded   = 1
	createExclusive = 2
)

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
