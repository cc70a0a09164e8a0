// Package writeback is the cache's write-back room: the journal of
// changes the backend has yet to receive, the worker that applies it,
// conflicts with changes made in the cloud meanwhile, the accounting of
// files with changes not yet uploaded, and flush.
//
// The journal is a list of Op records in the namespace's Journal
// bucket, keyed by a big-endian sequence number (the counter next-seq in
// Meta), each encoded by Op.Marshal. Dirty files are listed in the Dirty
// bucket by inode number. Both are written inside the namespace
// transaction that makes the change (Changes), so a change and its
// upload are durable together; these records are an on-disk format and
// must keep their layout.
//
// A Queue's worker applies the ops in order, a run of uploads of
// distinct keys in parallel, and only once the round that journalled
// them is durable. A failing op holds back the ops after it and is
// retried with capped exponential backoff; one no retry can fix is
// dropped. A scanner journals an upload for each dirty file unwritten
// for UploadDelay. Before a file is uploaded over an object someone else
// changed, the cloud's version is copied aside under a conflict name.
// An upload marks its inode clean only if it did not change meanwhile.
//
// What the room needs of the rest of the cache (transactions with the
// unstable-write overlay, the local content of a file) it asks of a Host,
// which the cache implements.
//
// Lock order: Queue.accounting is read-held by each of the cache's
// updates, outside the namespace's locks, and write-locked alone by a
// flush. Queue.mu and Dirty.mu guard maps only: neither is taken under
// the other, nothing is locked under them, and neither is held across a
// namespace transaction or a backend call, so both may be taken inside
// transactions.
package writeback
