// Package gateway is filegate's NFSv3 front end: a go-nfs (v0.0.4) Handler
// over a billy filesystem that is a thin path walk over the cache's inode
// API, with file handles of its own, and the server's lifecycle.
//
// # File handles
//
// A handle is 20 bytes: version, export id, inode number and generation
// (handle.go). Nothing in memory is needed to decode it, so it survives
// daemon restarts and renames of the file or of any directory above it,
// and never expires. It is stale only when the inode is gone or the
// generation differs. go-nfs turns handles back into paths (FromHandle
// asks the cache for the inode's current path) and every billy call walks
// that path from the root again.
//
// # Clients
//
// go-nfs serves MOUNT and NFS on one TCP port and has no portmapper, NLM
// or NSM, so Linux clients mount with
//
//	mount -t nfs -o vers=3,proto=tcp,port=2049,mountport=2049,nolock host:/ /mnt
//
// # What go-nfs collapses
//
// go-nfs decides the NFS status of most failures itself, from the
// operation and a few os.IsNotExist / os.IsPermission tests, not from the
// error. The gateway returns precise errors (a *fs.PathError holding
// fs.ErrNotExist, fs.ErrPermission or the syscall.Errno), but clients see
// the following instead of the matching NFS3ERR_* (and so the listed
// errno, not the real one, reaches the application):
//
//   - Every procedure: any FromHandle error is NFS3ERR_STALE, including a
//     malformed handle (should be BADHANDLE). To keep a passing cache
//     failure (timeout, disk error) from looking like a deleted file or a
//     dead mount, FromHandle answers those with a path on which every
//     billy call fails with EIO, so the status follows the rows below.
//   - GETATTR: any error but "not exist" is NFS3ERR_IO.
//   - LOOKUP: any error on the directory is NFS3ERR_NOTDIR; any error on
//     the name (EIO, ETIMEDOUT, ELOOP, ENAMETOOLONG, EACCES) is
//     NFS3ERR_NOENT; ".." of the root is NFS3ERR_ACCES (should be the root).
//   - ACCESS: grants every bit asked for. go-nfs checks no permissions and
//     ignores AUTH_UNIX credentials on every call; new inodes therefore
//     take the owner of their directory (credentials never reach billy)
//     unless the client sets uid/gid.
//   - READ: open or stat errors other than "not exist" are NFS3ERR_ACCES;
//     read errors (EIO, EISDIR, ETIMEDOUT) are NFS3ERR_IO.
//   - WRITE: stat errors other than "not exist" and open errors are
//     NFS3ERR_ACCES; a directory or other non-regular file is
//     NFS3ERR_INVAL (should be ISDIR); write and close (commit) errors keep
//     only ENOSPC, EDQUOT and EFBIG, all else is NFS3ERR_IO. Every reply
//     says FILE_SYNC and COMMIT does nothing, hence Close commits.
//   - CREATE: EXCLUSIVE mode is NFS3ERR_NOTSUPP, so open(O_CREAT|O_EXCL)
//     fails on Linux clients (ENOTSUPP, errno 524); UNCHECKED on an
//     existing file truncates it (go-nfs calls Create); an existing
//     directory is NFS3ERR_EXIST; any failure to create (ENOSPC,
//     ENAMETOOLONG from the cache, EIO, ENOTDIR) is NFS3ERR_ACCES, and a
//     failure to apply the attributes after is NFS3ERR_IO.
//   - MKDIR: a name that exists as a non-directory and any failure to
//     create (ENOSPC, EIO) are NFS3ERR_ACCES; "." and ".." are EXIST. With
//     no mode in the request the mode is 0363 (go-nfs writes 755 in
//     decimal); Linux always sends one.
//   - SYMLINK, MKNOD: any failure to create is NFS3ERR_ACCES. MKNOD of a
//     character device does nothing and answers NFS3_OK (an empty case in
//     go-nfs) with a handle that does not resolve; block devices work.
//     Attribute failures after MKNOD are NFS3ERR_SERVERFAULT.
//   - REMOVE and RMDIR are one handler calling billy Remove, so REMOVE of
//     an empty directory removes it and RMDIR of a file removes the file
//     (should be ISDIR / NOTDIR); ENOTEMPTY, EINVAL and all but "not
//     exist"/"permission" are NFS3ERR_IO.
//   - RENAME: all but "not exist"/"permission" is NFS3ERR_IO: ENOTEMPTY,
//     EEXIST, EISDIR, ENOTDIR, EINVAL (a directory into itself), EXDEV,
//     ENOSPC.
//   - LINK: go-nfs decodes the arguments in the wrong order (sattr and an
//     opaque after the first handle instead of a handle and a diropargs),
//     so hard links cannot be made over NFS: a well-formed LINK fails with
//     NFS3ERR_INVAL (or NOTDIR). UnixChange.Link itself works.
//   - READLINK: a non-symlink is NFS3ERR_INVAL; other errors NOENT or ACCES.
//   - READDIR, READDIRPLUS: a listing error other than "permission" is
//     NFS3ERR_NOTDIR (EIO, ETIMEDOUT, ENOENT alike). Cookies are indexes
//     into go-nfs's name-sorted listing, not the cache's stable cookies;
//     dircache.go keeps listings by verifier so each page of one pass comes
//     from one snapshot. Page sizes are estimated at 512 bytes an entry.
//   - SETATTR: stat errors other than "not exist" are NFS3ERR_ACCES.
//     Errors from chmod, chown, utimes or truncate other than "permission"
//     (EIO, ENOSPC, EFBIG, EISDIR, ESTALE) are returned unconverted and
//     become an RPC-level SYSTEM_ERR, not an NFS status; if the stat inside
//     go-nfs fails with anything else, SETATTR answers NFS3_OK having done
//     nothing. Modes are masked to 0777, so setuid, setgid and sticky
//     cannot be set (Stat shows them; see wireMode). Size on a symlink is
//     NFS3ERR_NOTSUPP.
//   - Attributes: atime and ctime are always reported equal to mtime
//     (billy's FileInfo has only ModTime), so the SETATTR guard compares
//     against mtime, chmod or chown do not change what clients see as
//     ctime, and a SETATTR of mtime alone passes the old mtime as atime
//     (Chtimes treats that as "atime unchanged"). fsid is 0; used = size.
//   - FSSTAT: a cache error is NFS3ERR_SERVERFAULT. FSINFO and PATHCONF
//     are fixed: rtmax/wtmax 1 GiB, linkmax 1, name max 255.
//   - MOUNT: only MNT, UMNT and NULL exist; EXPORT (showmount -e) and DUMP
//     are PROC_UNAVAIL.
//
// # Operations
//
// admin.go serves the admin API (status, flush, refresh, pin, unpin,
// evict, log level) as HTTP and JSON on a unix socket for the admin verbs
// of cmd/filegate. rpcstats.go counts and times every RPC by procedure
// from a copy of each connection's bytes (go-nfs has no hook per
// request); RPCMeter does the same for any other listener.
//
// Beyond statuses: go-nfs answers one request at a time per connection,
// so one slow cache call (a download behind READ) stalls that client's
// other calls; OpTimeout bounds it. A READ allocates a buffer of the
// client's count (up to 16 MiB) per call, and a WRITE holds all its data.
package gateway
