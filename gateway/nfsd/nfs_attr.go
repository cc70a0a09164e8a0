package nfsd

import (
	"math"
	"time"

	"github.com/filegate/filegate/cache"
)

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
