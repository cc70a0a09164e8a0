package nfsd

import (
	"math"

	"github.com/filegate/filegate/cache"
)

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
