// Package content is the cache's room for file contents on local disk:
// the data files of the inodes whose content is cached, kept open
// between calls (Files), the spare data files a first write links into
// place, and the byte-bounded least recently used order that eviction
// follows (LRU), and the content epochs that tell a read or a write
// whether the content it looked at was dropped since (Epochs). All its file access goes through cache/vfs, so tests can
// fail a write or cut the power at any point.
//
// It knows nothing of the namespace's meaning: the cache decides which
// inode's content may be written, dropped or evicted, and tells Files.
//
// # Lock order
//
// Files pins and eviction marks (Pin waits while an inode is being
// evicted, BeginEvict refuses pinned ones) are held by the cache across
// namespace updates, as a lock would be. Files.mu, then the spare pool's
// mu, guard maps and lists only: nothing else is locked under them, and
// neither is held across an fsync. The spare refiller takes the pool's
// mu alone. LRU's mu is a leaf too: EvictTo calls its evict function
// with it released. Epochs' mu is a leaf; a drop in progress (Begin to
// End) is waited for by Watch as for a lock, so Watch is never called
// within a drop of the same inode or under a lock a drop takes.
package content
