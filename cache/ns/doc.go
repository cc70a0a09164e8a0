// Package ns is the cache's namespace: inodes and directory entries in
// one bbolt database, with the small records of the cache's other rooms
// beside them, made durable by a write-ahead log (log.go) and group
// commit (commit.go). It knows nothing of file contents or the backend:
// the write-back and the content keep their records in buckets a Tx
// hands them (Dirty, Journal, Inline, Chunks, Meta), and ns makes their
// changes durable and atomic with the namespace's.
//
// Its records and keys (record.go, tx.go) and the log's layout (log.go)
// are an on-disk format: state folders of earlier releases must keep
// opening.
//
// Lock order: DB.commitMu is taken alone, to queue an update. Then
// DB.roundMu, held by a round from its first update until its log record
// is durable, and by checkpoints; then DB.mu, held by views, by a round
// while it changes the open transaction (not while it syncs the log),
// and by checkpoints across the database commit. Update and View
// functions run under roundMu and mu: they may take locks their caller
// never holds while calling into ns, and must not call into the DB.
package ns
