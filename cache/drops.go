package cache

// Five questions are asked about one file's local content while a read,
// a fetch, a write or an upload works on it. Each has one answer, and no
// answer stands in for another:
//
//  1. Was the content dropped since I looked? content.Epochs. A
//     drop takes a file's local content away: a refresh that takes a new
//     cloud version (refreshHost.DropContent), dropStale, a remove or a rename over
//     the file (forget), eviction (evict). Each drop brackets itself with
//     beginDrop. A read or a write watches the inode from before it looks
//     at the namespace until it has used what it found, and asks
//     DroppedSince before it uses it: readAt after reading the data file
//     (TestReadOverlappingADropReadsAgain, TestReadsWhileTheCloudChanges),
//     writeData and truncate under the data lock, before they write
//     (TestWriteAfterARemoveWritesNothing). A write also checks, in the
//     transaction that marks the file dirty, that it is still local.
//     persistChunks asks it of its own snapshot of the fresh chunks:
//     every drop forgets them (Fresh.Drop), so an entry gone or replaced
//     since the snapshot was dropped.
//  2. May I change the data file now? content.Files.DataLock, a striped
//     mutex: the writes of fetches, client writes, truncates and the
//     drops of refreshHost.DropContent and dropStale exclude each other, so a check of the
//     namespace and the write it allows are one step (a late fetch never
//     overwrites newer local data). Mutual exclusion, not an answer to 1:
//     forget and evict drop without it.
//  3. Must a refresh leave the content alone? content.Writers counts
//     the writes in flight per inode; busyWriting says yes for those, as
//     for dirty files and uncommitted unstable writes, so a write in
//     flight wins over a change noticed in the cloud
//     (TestWriteRacingACloudChangeIsKept,
//     TestUnstableWriteRacingACloudChangeIsKept,
//     TestTruncateRacingACloudChangeIsKept,
//     TestUnstableWriteRacingACloudDeleteIsKept).
//  4. May eviction take it? content.Files pins: every operation on
//     an inode's data pins it, and evict takes only unpinned files, so an
//     operation in progress does not lose the content it works on and
//     start over (TestTruncateRacingEvictionIsKept). Were one evicted
//     anyway, it would count as a drop (1).
//  5. Do these bytes belong to the version the namespace holds?
//     content.Version, stored in the namespace: a fetch checks it under the
//     data lock before it writes a chunk, persistChunks before it records
//     one, and the fresh chunks carry it (fetchrace_test.go). The
//     uploader asks the like of the inode's own version: whether a write
//     came during the upload (writeback's changedSince,
//     TestUploadRacingAnOverwriteIsNoFailure); a dirty file's content is
//     never dropped but by its removal.

// beginDrop marks a drop of ino's local content in progress, and returns
// the function that ends it, told whether the content was dropped. Until
// then every watcher takes the content for dropped, and Watch waits.
func (c *Cache) beginDrop(ino Ino) func(dropped bool) {
	c.epochs.Begin(ino)
	return func(dropped bool) { c.epochs.End(ino, dropped) }
}
