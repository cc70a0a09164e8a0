package nfsd

import (
	"io/fs"

	"github.com/filegate/filegate/cache"
)

// Permission bits of a mode triple.
const (
	mayRead  = 4
	mayWrite = 2
	mayExec  = 1
)

// ACCESS3 bits.
const (
	access3Read    = 0x01
	access3Lookup  = 0x02
	access3Modify  = 0x04
	access3Extend  = 0x08
	access3Delete  = 0x10
	access3Execute = 0x20
)

// may reports whether c may do want (mayRead|mayWrite|mayExec) on a, by
// its mode and owner as a local file system would: owner, else group
// (primary or supplementary), else other. Root may do everything except
// execute a non-directory no one may execute.
func (c *cred) may(a *cache.Attr, want uint32) bool {
	if c.uid == 0 {
		return want&mayExec == 0 || a.IsDir() || a.Mode&0o111 != 0
	}
	m := uint32(a.Mode.Perm())
	switch {
	case c.uid == a.UID:
		m >>= 6
	case c.inGroup(a.GID):
		m >>= 3
	}
	return m&want == want
}

// mayReadData is READ's check, knfsd's: read permission, or execute
// (a binary being run is read), or ownership (a file opened before a
// chmod stays readable to its owner).
func (c *cred) mayReadData(a *cache.Attr) bool {
	return c.uid == a.UID || c.may(a, mayRead) || c.may(a, mayExec)
}

// mayWriteData is WRITE's and truncate's check: write permission or
// ownership.
func (c *cred) mayWriteData(a *cache.Attr) bool {
	return c.uid == a.UID || c.may(a, mayWrite)
}

// mayDelete is the sticky-directory rule: in a sticky directory only
// root, the directory's owner and the entry's owner may remove or rename
// the entry (EPERM otherwise).
func (c *cred) mayDelete(dir, child *cache.Attr) bool {
	return dir.Mode&fs.ModeSticky == 0 || c.uid == 0 || c.uid == dir.UID || c.uid == child.UID
}

// access answers ACCESS: the bits of want the caller has on a.
func (c *cred) access(a *cache.Attr, want uint32, readOnly bool) uint32 {
	var got uint32
	r, w, x := c.may(a, mayRead), c.may(a, mayWrite), c.may(a, mayExec)
	if a.IsDir() {
		if r {
			got |= access3Read
		}
		if x {
			got |= access3Lookup
		}
		if w && x {
			got |= access3Modify | access3Extend | access3Delete
		}
	} else {
		if r {
			got |= access3Read
		}
		if w {
			got |= access3Modify | access3Extend
		}
		if x {
			got |= access3Execute
		}
	}
	if readOnly {
		got &^= access3Modify | access3Extend | access3Delete
	}
	return got & want
}

// newOwner is the owner of an inode c creates in dir: the caller, with
// the directory's group when the directory is setgid (BSD semantics).
func (c *cred) newOwner(dir *cache.Attr) (uid, gid uint32) {
	if dir.Mode&fs.ModeSetgid != 0 {
		return c.uid, dir.GID
	}
	return c.uid, c.gid
}

// checkSetattr applies chmod/chown/utimes/truncate permission rules for
// c on a. It returns an NFS status, and may clear setuid/setgid bits in
// set as Linux does (chmod by a non-member of the file's group drops
// setgid; chown of a non-directory drops setuid, and setgid when group
// execute is set).
func (c *cred) checkSetattr(a *cache.Attr, s *sattr, set *cache.SetAttr) uint32 {
	owner := c.uid == 0 || c.uid == a.UID
	if s.mode != nil && !owner {
		return nfs3ErrPerm
	}
	if s.uid != nil && c.uid != 0 && (c.uid != a.UID || *s.uid != a.UID) {
		return nfs3ErrPerm
	}
	if s.gid != nil && c.uid != 0 && (c.uid != a.UID || (*s.gid != a.GID && !c.inGroup(*s.gid))) {
		return nfs3ErrPerm
	}
	if s.size != nil && !c.mayWriteData(a) {
		return nfs3ErrAcces
	}
	if s.atimeHow == setToClientTime || s.mtHow == setToClientTime {
		if !owner {
			return nfs3ErrPerm
		}
	} else if (s.atimeHow == setToServerTime || s.mtHow == setToServerTime) && !owner && !c.may(a, mayWrite) {
		return nfs3ErrAcces
	}
	if set.Mode != nil && c.uid != 0 && *set.Mode&fs.ModeSetgid != 0 {
		gid := a.GID
		if set.GID != nil {
			gid = *set.GID
		}
		if !c.inGroup(gid) {
			m := *set.Mode &^ fs.ModeSetgid
			set.Mode = &m
		}
	}
	chown := (set.UID != nil && *set.UID != a.UID) || (set.GID != nil && *set.GID != a.GID)
	if chown && !a.IsDir() && a.Mode&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		m := a.Mode & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		if set.Mode != nil {
			m = *set.Mode
		}
		m &^= fs.ModeSetuid
		if m&0o010 != 0 {
			m &^= fs.ModeSetgid
		}
		set.Mode = &m
	}
	return nfs3OK
}
