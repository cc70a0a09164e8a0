// Package writeback is the cache's write-back room: the journal of
// changes the backend has yet to receive, and the accounting of files
// with changes not yet uploaded.
//
// The journal is a list of Op records in the namespace's Journal
// bucket, keyed by a big-endian sequence number (the counter next-seq in
// Meta), each encoded by Op.Marshal. Dirty files are listed in the Dirty
// bucket by inode number. Both are written inside the namespace
// transaction that makes the change (Changes), so a change and its
// upload are durable together; these records are an on-disk format and
// must keep their layout.
//
// Lock order: Dirty.mu guards maps only; nothing is locked under it and
// it is never held across a namespace update or a backend call, so it
// may be taken inside namespace transactions.
package writeback
