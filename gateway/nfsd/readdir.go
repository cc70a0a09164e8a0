package nfsd

import (
	"encoding/binary"

	"github.com/filegate/filegate/cache"
)

// Directory cookies on the wire are the cache's cookies plus 2: 1 and 2
// are the positions after "." and "..", which the cache does not list.
// The cache's cookies stay valid for an entry's life whatever else
// changes, and across restarts, so the cookie verifier is a constant of
// the export: a client resuming a listing never gets BAD_COOKIE, and
// sees every entry that existed throughout exactly once.
const dotCookies = 2

func (r *call) cookieVerf() uint64 {
	return uint64(r.fsid())<<32 | 0x66677631 // "fgv1"
}

// dirent is one entry to encode.
type dirent struct {
	name   string
	ino    cache.Ino
	cookie uint64
}

func nfsReaddir(r *call, d *decoder) error { return r.readdir(d, false) }

func nfsReaddirplus(r *call, d *decoder) error { return r.readdir(d, true) }

func (r *call) readdir(d *decoder, plus bool) error {
	fh, cookie := d.fh(), d.uint64()
	verf := d.fixed(8)
	dircount := d.uint32()
	maxcount := dircount
	if plus {
		maxcount = d.uint32()
	}
	if d.err != nil {
		return d.err
	}
	dir, st := r.resolve(fh)
	if st == nfs3OK {
		switch {
		case !dir.IsDir():
			st = nfs3ErrNotDir
		case !r.cred.may(&dir, mayRead):
			st = nfs3ErrAcces
		case cookie != 0 && binary.BigEndian.Uint64(verf) != 0 && binary.BigEndian.Uint64(verf) != r.cookieVerf():
			st = nfs3ErrBadCookie
		}
	}
	if st != nfs3OK {
		r.status(st)
		r.e.postOpAttr(ptrIf(dir.Ino != 0, &dir), r.fsid())
		return nil
	}
	maxcount = min(maxcount, maxReply)
	start := len(r.e.b)
	r.status(nfs3OK)
	r.e.postOpAttr(&dir, r.fsid())
	r.e.uint64(r.cookieVerf())
	// The reply may not exceed maxcount (8 bytes are kept for the list's
	// end and eof); READDIRPLUS's names, ids and cookies alone may not
	// exceed dircount either.
	limit := start + int(maxcount) - 8
	dirBytes, n := 0, 0
	full := false
	add := func(e dirent) bool {
		size := 4 + 8 + xdrLen(len(e.name)) + 8
		if plus {
			size += 4 + fattrLen + 4 + 4 + handleLen
		}
		if len(r.e.b)+size > limit || (plus && n > 0 && dirBytes+size > int(dircount)) {
			full = true
			return false
		}
		dirBytes += 4 + 8 + xdrLen(len(e.name)) + 8
		n++
		r.e.bool(true)
		r.e.uint64(uint64(e.ino))
		r.e.string(e.name)
		r.e.uint64(e.cookie)
		if plus {
			r.entryPlus(e.ino)
		}
		return true
	}
	if cookie < 1 && !add(dirent{".", dir.Ino, 1}) {
		return r.tooSmall(start, &dir)
	}
	if cookie < 2 {
		parent := dir.Ino
		if p, err := r.x.c.Lookup(r.ctx, dir.Ino, ".."); err == nil {
			parent = p.Ino
		}
		if !add(dirent{"..", parent, 2}) {
			if n == 0 {
				return r.tooSmall(start, &dir)
			}
			r.e.bool(false)
			r.e.bool(false)
			return nil
		}
	}
	from := uint64(0)
	if cookie > dotCookies {
		from = cookie - dotCookies
	}
	if !full {
		err := r.x.c.ReadDir(r.ctx, dir.Ino, from, func(de cache.DirEntry) bool {
			return add(dirent{de.Name, de.Ino, de.Cookie + dotCookies})
		})
		if err != nil {
			r.e.b = r.e.b[:start]
			r.status(status(err))
			r.e.postOpAttr(r.attr(dir.Ino), r.fsid())
			return nil
		}
	}
	if n == 0 && full {
		return r.tooSmall(start, &dir)
	}
	r.e.bool(false) // no more entries in this reply
	r.e.bool(!full) // eof
	return nil
}

// entryPlus encodes READDIRPLUS's attributes and handle of one entry;
// an entry removed meanwhile goes without them.
func (r *call) entryPlus(ino cache.Ino) {
	a, err := r.x.c.GetAttr(r.ctx, ino)
	if err != nil {
		r.e.postOpAttr(nil, r.fsid())
		r.e.postOpFH(nil)
		return
	}
	r.e.postOpAttr(&a, r.fsid())
	h := r.handle(&a)
	r.e.postOpFH(&h)
}

func (r *call) tooSmall(start int, dir *cache.Attr) error {
	r.e.b = r.e.b[:start]
	r.status(nfs3ErrTooSmall)
	r.e.postOpAttr(dir, r.fsid())
	return nil
}
