// Package nfsd is filegate's own NFSv3 server (RFC 1813) with MOUNT v3
// and a portmapper v2 answering on the same TCP port, over the cache's
// inode API: the front end `filegate serve` runs.
//
// # Wire
//
// ONC RPC (RFC 5531) over TCP with record marking: records of several
// fragments are joined; a record over maxRecord (the largest WRITE,
// 1 MiB, plus 4 KiB of headers) ends the connection before it is
// buffered. XDR is hand-written (xdr.go): a decoder over the record's
// bytes with a sticky error, whose opaques alias the record (WRITE data
// is never copied) and whose lengths are checked against what is left
// before anything is sliced; and an encoder appending to a pooled reply
// buffer. go-nfs-client's xdr package decodes through reflection and
// io.Reader with an allocation per field, and go-nfs's types serve its
// own handlers, so neither fits a server that must not allocate per
// request. Calls that do not decode get GARBAGE_ARGS; unknown programs
// PROG_UNAVAIL (NLM among them: there is no lock manager, so lock calls
// fail at once; clients mount with nolock or local_lock=all), other
// versions PROG_MISMATCH, unknown procedures PROC_UNAVAIL, RPC versions
// other than 2 RPC_MISMATCH, and credentials other than AUTH_NONE and a
// well-formed AUTH_UNIX (at most 16 groups) AUTH_BADCRED. A record too
// short to carry an xid gets no reply.
//
// # Discovery
//
// The NFS port answers portmapper v2 GETPORT and DUMP for itself, and
// Portmap (portmap.go) makes the server discoverable on the well-known
// port 111: a portmapper of its own over TCP and UDP when it can bind the
// port (root, no rpcbind running), else SET registrations with the rpcbind
// there (UNSET at Close), else a warning. It maps NFS v3 and MOUNT v1 and
// v3, all TCP; MOUNT v1 and v2 serve DUMP, UMNT and EXPORT (showmount asks
// in v1) but not MNT, which would need NFSv2 handles. MNT accepts a folder
// below the export, as knfsd's mountd does. A server has one export (New)
// or several, each over a cache of its own (NewExports): MNT picks the
// export with the longest name at or above the path, EXPORT lists them
// all, and an NFS call is served by the export whose id its first handle
// carries (every NFSv3 procedure's arguments start with one), so each
// export's client list, squash and read-only rule apply to its own
// calls. A handle of one export is STALE in every other; as the second
// handle of a RENAME or LINK it is XDEV, as between two file systems, so
// mv falls back to copying.
//
// # Concurrency and buffers
//
// Each connection's reader takes a slot of its own (ConnRequests) and one
// of the server (MaxRequests) before reading a record, then answers it
// on a goroutine of its own, so requests of one connection run
// concurrently and replies go out as they finish, one socket write at a
// time. Requests are read into pooled 64 KiB buffers, or 1 MiB ones
// when they carry a WRITE; a READ's data is read by the cache into a
// pooled 1 MiB buffer and sent after the reply header with one vectored
// write (net.Buffers), so no request allocates its payload. Memory is
// thus bounded by MaxRequests × about 2 MiB.
//
// # Metrics
//
// dispatch counts every call with an RPC version 2 header by program and
// procedure, refused ones too, and send times it from the record read to
// its reply written (stats.go); RPCStats returns the counters, which
// cmd/filegate exports to Prometheus.
//
// # Identity and policy
//
// AUTH_UNIX credentials, after the export's squash rule (root_squash by
// default, all_squash, or none; AUTH_NONE callers are anonymous), are
// checked on every operation as a local file system would:
// owner/group/other with supplementary groups, search permission on
// every directory walked, write and search on a directory changed, the
// sticky bit for REMOVE, RMDIR and RENAME, write on a directory that
// moves to another parent, chmod only by the owner or root, chown only by
// root (the owner may change the group to one of its own), devices made
// only by root. READ and WRITE allow the owner whatever the mode (a file
// opened before a chmod stays usable), and READ also allows execute, as
// knfsd does. Root may do everything but execute a file without an
// execute bit. New inodes belong to the caller, with the group of a
// setgid directory (and setgid on new subdirectories). chmod by a caller
// outside the file's group drops setgid; chown of a file and writes by
// anyone but root drop setuid and setgid, as Linux does. ACCESS answers
// from the same rules. The export's client list (CIDRs), read-only flag
// and secure flag (source port below 1024) apply per connection: MNT from
// a refused client is MNT3ERR_ACCES and its NFS calls AUTH_TOOWEAK.
//
// # Durability
//
// UNSTABLE WRITEs are on the cache's disk but not synced; COMMIT syncs
// them (cache.Commit), and DATA_SYNC and FILE_SYNC WRITEs are synced
// before the reply, which then says FILE_SYNC. The write verifier is
// random at every start of the server, so after a restart (or a crash)
// clients resend every UNSTABLE write they have not seen committed. The
// cache's size and mtime are in its database at every WRITE. With the
// cache's SyncInterval, a commit is batched as the cache documents.
//
// # Handles, attributes and directories
//
// A file handle (handle.go) holds the export id, the inode number and
// its generation, so it outlives restarts and renames. A handle we never
// made is BADHANDLE, one of another export, a removed inode or an older
// generation STALE.
// fileid is the inode number, fsid the export id, times have nanoseconds
// (time_delta 1 ns). READDIR and READDIRPLUS cookies are the cache's
// cookies plus 2 (1 and 2 follow "." and ".."); they stay valid for an
// entry's life and across restarts, so the cookie verifier is a constant
// of the export and a resumed listing never gets BAD_COOKIE. EXCLUSIVE
// CREATE keeps its verifier in mtime and atime seconds as knfsd does, so
// a retransmission succeeds and another verifier gets EXIST. A
// procedure that changes something is one cache call after resolving
// its handles (a GetAttr each, which the permission checks read): the
// call returns the attributes after it and, for wcc_data, those before
// it, read where the change was made, so nothing can fall between them;
// only an error reply reads the attributes again. A CREATE's, MKDIR's or
// SYMLINK's owner, group and times go into the call that makes the
// inode, not a SETATTR after it. Cache
// errors map to their NFS3ERR_* by errno (errors.go); a backend timeout
// is JUKEBOX, an error without an errno SERVERFAULT, and IO is kept for
// real I/O errors and for a procedure that panicked: the panic is logged
// with its stack, that one call fails with IO and an empty resfail body
// (an RPC-level SYSTEM_ERR could make the client send it again), and the
// connection goes on.
package nfsd
