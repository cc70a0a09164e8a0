package cache

import "sync"

// Five questions are asked about one file's local content while a read,
// a fetch, a write or an upload works on it. Each has one answer, and no
// answer stands in for another:
//
//  1. Was the content dropped since I looked? contentEpochs (below). A
//     drop takes a file's local content away: a refresh that takes a new
//     cloud version (takeVersion), dropStale, a remove or a rename over
//     the file (forget), eviction (evict). Each drop brackets itself with
//     beginDrop. A read or a write watches the inode from before it looks
//     at the namespace until it has used what it found, and asks
//     droppedSince before it uses it: readAt after reading the data file
//     (TestReadOverlappingADropReadsAgain, TestReadsWhileTheCloudChanges),
//     writeData and truncate under the data lock, before they write
//     (TestWriteAfterARemoveWritesNothing). A write also checks, in the
//     transaction that marks the file dirty, that it is still local.
//     persistChunks asks it of its own snapshot of the fresh chunks:
//     every drop forgets them (dropFresh), so an entry gone or replaced
//     since the snapshot was dropped.
//  2. May I change the data file now? dataLock, a striped mutex: the
//     writes of fetches, client writes, truncates and the drops of
//     takeVersion and dropStale exclude each other, so a check of the
//     namespace and the write it allows are one step (a late fetch never
//     overwrites newer local data). Mutual exclusion, not an answer to 1:
//     forget and evict drop without it.
//  3. Must a refresh leave the content alone? writers (writers.go) counts
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
//  5. Do these bytes belong to the version the namespace holds? chunkVer
//     (fetch.go), stored in the namespace: a fetch checks it under the
//     data lock before it writes a chunk, persistChunks before it records
//     one, and the fresh chunks carry it (fetchrace_test.go). The
//     uploader asks the like of the inode's own version: whether a write
//     came during the upload (changedSince,
//     TestUploadRacingAnOverwriteIsNoFailure); a dirty file's content is
//     never dropped but by its removal.

// contentEpochs answers "was ino's local content dropped since I looked?"
// for each inode exactly, with no stripe shared by other inodes: a false
// answer would make a write start over, and three in a row fail it. An
// inode has an entry only while it is watched or being dropped; its epoch
// need not outlive that, since only a watcher compares it. Its mutex is
// a leaf: nothing else is locked while it is held. watch waits for the
// drops in progress, so it is never called under the data lock or within
// a drop of the same inode.
type contentEpochs struct {
	mu sync.Mutex
	// settled is broadcast when the last drop in progress of an inode
	// ends.
	settled *sync.Cond
	m       map[Ino]epochState
}

type epochState struct {
	watchers int    // watch calls not yet ended by unwatch
	dropping int    // drops in progress
	epoch    uint64 // drops done while watched
}

func newContentEpochs() *contentEpochs {
	e := &contentEpochs{m: map[Ino]epochState{}}
	e.settled = sync.NewCond(&e.mu)
	return e
}

// watch starts watching ino's content and returns its epoch for
// droppedSince, once no drop of it is in progress: whatever the caller
// then looks at is after every drop begun before. The caller must call
// unwatch when it has used what it looked at.
func (e *contentEpochs) watch(ino Ino) uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.watchers++
	e.m[ino] = s
	for s.dropping > 0 {
		e.settled.Wait()
		s = e.m[ino]
	}
	return s.epoch
}

// unwatch ends a watch.
func (e *contentEpochs) unwatch(ino Ino) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.watchers--
	e.putLocked(ino, s)
}

// droppedSince reports whether a watcher that got epoch from watch must
// take ino's content for dropped: a drop ended since, or one is in
// progress.
func (e *contentEpochs) droppedSince(ino Ino, epoch uint64) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.m[ino]
	return !ok || s.dropping > 0 || s.epoch != epoch
}

// begin marks a drop of ino's content in progress.
func (e *contentEpochs) begin(ino Ino) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	s.dropping++
	e.m[ino] = s
}

// end ends a drop begun by begin; dropped tells whether it took the
// content away (a refresh may find the file busy and leave it).
func (e *contentEpochs) end(ino Ino, dropped bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.m[ino]
	if dropped {
		s.epoch++
	}
	if s.dropping--; s.dropping == 0 {
		e.settled.Broadcast()
	}
	e.putLocked(ino, s)
}

func (e *contentEpochs) putLocked(ino Ino, s epochState) {
	if s.watchers <= 0 && s.dropping <= 0 {
		delete(e.m, ino)
		return
	}
	e.m[ino] = s
}

// beginDrop marks a drop of ino's local content in progress, and returns
// the function that ends it, told whether the content was dropped. Until
// then every watcher takes the content for dropped, and watch waits.
func (c *Cache) beginDrop(ino Ino) func(dropped bool) {
	c.epochs.begin(ino)
	return func(dropped bool) { c.epochs.end(ino, dropped) }
}
