package nfsd

import (
	"errors"
	"io"
	"io/fs"
	"math"

	"github.com/filegate/filegate/cache"
)

// write stability (stable_how).
const (
	unstable = 0
	dataSync = 1
	fileSync = 2
)

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
