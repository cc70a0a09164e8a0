// Package cache is the gateway's local copy of the cloud: a namespace of
// inodes, directory entries and attributes in an embedded crash-safe
// database, file contents on local disk, and the write-back of changes to
// a backend.Store. Its API is inode based, the shape NFS itself has, so
// a front end (gateway/nfsd today; a FUSE mount or a lock manager could
// follow) sits on it without touching the cache.
//
// Errors returned by the API satisfy errors.Is(err, syscall.EXXX) for the
// errno a local filesystem would give, so front ends map them to their
// protocol's status without parsing text.
//
// # Lock order
//
// Locks are taken in this order, outer first; a lock may be skipped, never
// taken after one below it:
//
//  1. Cache.syncMu[ino]: Commit and truncate of one inode, so an inline
//     record and the data file's sync do not cross. May be held across
//     backend calls (a truncate fetches the part it keeps), fsyncs and
//     namespace updates.
//  2. content.Files pins and eviction marks (Pin waits while an inode is
//     being evicted, and eviction skips pinned inodes): held across
//     namespace updates, as a lock would be.
//  3. content.Files.DataLock(ino): writes into one inode's data file,
//     so a late fetch never overwrites newer data, and drops of its
//     content. Held across data file writes, their fsync and namespace
//     updates, never across a backend call: a fetch reads from the
//     backend first and takes it to write what it got.
//  4. Drops in progress (content.Epochs; beginDrop, drops.go): a drop
//     of an inode's content is bracketed around its namespace update and
//     the data file's removal, inside the data lock or the eviction mark
//     where it takes one, and Watch waits for it as for a lock. So Watch
//     is called under syncMu and pins only, never under a data lock or
//     within a drop.
//  5. writeback.Queue's accounting: read-held by every update
//     (Cache.update) from before its round until the write-back has
//     taken in its effect; a flush write-locks it, holding nothing else,
//     to wait for the updates it saw.
//  6. ns.DB's roundMu, then its mu: the namespace (Cache.update and
//     Cache.view; see cache/ns). roundMu is held by a round until its log
//     record is durable, mu while the open transaction is read or
//     changed; both across a checkpoint's database commit. ns.DB's
//     commitMu, the group commit's queue, is taken alone, before a round
//     starts.
//  7. unstableWrites.mu: may be taken inside update and view functions
//     (the unstable-write overlay).
//  8. content.LRU's mu; content.Files' mu, then its spare pool's mu;
//     content.Epochs' mu; content.Fresh's mu; content.Writers' mu (in
//     busyWriting, inside update and view functions);
//     content.ReadAhead's mu; writeback.Queue's mu; writeback.Dirty's
//     mu; refresh.Refresher's mu; Cache.mu; unsyncedFiles.mu.
//
// Cache.mu, unstableWrites.mu, unsyncedFiles.mu, the Files, spare pool,
// LRU, Epochs, Fresh, Writers and ReadAhead mutexes, the write-back's
// Queue.mu and Dirty.mu, the Refresher's mu, and ns.DB's commitMu guard
// maps and lists: nothing but the spare pool's (under Files') is locked
// under them, and none is held across a backend call, an fsync or a
// namespace update. Of the others, only syncMu is held across a backend
// call.
package cache
