// Package content is the cache's room for file contents on local disk.
// It holds:
//
//   - Files: the data files of the inodes whose content is cached, kept
//     open between calls, with pins and eviction marks, and the spare
//     data files a first write links into place;
//   - LRU: the bytes of cached contents in least recently used order,
//     bounded by the cache size, which eviction follows;
//   - Epochs: the one answer to "was this content dropped since I
//     looked?" for a read or a write; Writers: the writes in flight,
//     whose content a refresh leaves alone;
//   - the chunk bitmaps of files not wholly local (records in the
//     namespace's Chunks bucket, through ns.Tx), and Fresh: the chunks
//     fetched but not yet recorded, with the Version of the cloud object
//     they belong to; ReadAhead: which readers are sequential, and the
//     slots of the read-aheads running;
//   - Fetcher: makes ranges of files local, fetching the missing chunks
//     in parallel with one fetch per chunk and version (singleflight);
//     what it needs of the namespace and the backend it asks a Source;
//   - Inline: small files' committed content kept as records in the
//     namespace (the Inline bucket) instead of an fsync, and the
//     settler's work that syncs their data files and deletes them.
//
// All its file access goes through cache/vfs, so tests can fail a write
// or cut the power at any point. It knows nothing of the namespace's
// meaning: the cache decides which inode's content may be written,
// dropped or evicted, and tells content; it records fetched chunks once
// their data file is synced, and answers a Fetcher's Source.
//
// # Lock order
//
// Files pins and eviction marks (Pin waits while an inode is being
// evicted, BeginEvict refuses pinned ones) are held by the cache across
// namespace updates, as a lock would be; then a data lock
// (Files.DataLock), held across writes of a data file, their fsync and
// namespace updates, never across a backend call: a Fetcher reads from
// the backend first, then takes it to ask its Source (a namespace view)
// and write. A drop in progress (Epochs' Begin to End) is waited for by
// Watch as for a lock, so Watch is never called within a drop of the
// same inode or under a lock a drop takes.
// Inline's Settle and Restore run namespace transactions and fsyncs, so
// they are called with no lock held.
//
// The mutexes are leaves, guarding maps and lists only, none held across
// an fsync or a call out of the package: Files.mu, under which the spare
// pool's mu may be taken; the spare pool's mu, taken alone by the
// refiller; LRU's mu (EvictTo calls its evict function with it
// released); Epochs' mu; ReadAhead's mu; Fresh's and Writers' mu, which
// may be taken inside namespace updates and views.
package content
