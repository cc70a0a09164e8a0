package cache

import (
	"sync/atomic"
	"time"

	"github.com/filegate/filegate/cache/writeback"
)

// stats are the counters behind Stats.
type stats struct {
	remoteReads, remoteReadBytes atomic.Int64
	localReads, localReadBytes   atomic.Int64
	writes, writeBytes           atomic.Int64
	evictions                    atomic.Int64
	misses, missBytes            atomic.Int64
	fsyncs                       atomic.Int64
}

// Stats is a snapshot of the cache's counters and queue.
type Stats struct {
	Uploads, UploadBytes, UploadErrors int64
	RemoteReads, RemoteReadBytes       int64
	LocalReads, LocalReadBytes         int64
	Writes, WriteBytes                 int64
	Evictions, DirtyRefusals           int64
	// Misses and MissBytes count reads (of LocalReads) that had to wait
	// for the backend.
	Misses, MissBytes int64
	// Conflicts counts files changed both here and in the cloud.
	Conflicts int64
	// DataSyncs counts fsyncs of data files.
	DataSyncs int64
	// Commits counts namespace updates made durable: log records (one
	// fdatasync each) or, when the log is not in use, database commits
	// (two). Concurrent updates share one.
	Commits int64
	// Checkpoints counts commits of the namespace database that took
	// what the log held.
	Checkpoints int64
	// NamespaceProblem says what is wrong with the namespace's log or
	// database, "" when nothing.
	NamespaceProblem                string
	UsedBytes, MaxBytes, DirtyBytes int64
	DirtyLimitBytes                 int64
	DirtyFiles                      int
	JournalOps                      int
	// LastError is the error of the latest failed attempt counted in
	// UploadErrors, kept when a retry succeeds (Failing says what fails
	// now).
	LastError string
	// OldestDirty is when the longest-waiting dirty file turned dirty
	// (zero when none; files dirty before this start count from start).
	OldestDirty time.Time
	// Failing lists the backend changes failing right now.
	Failing []Failure
}

// DirtyBytes is the total size of files with changes not yet uploaded.
func (c *Cache) DirtyBytes() int64 { return c.dirty.Bytes() }

// Failure is a backend change that keeps failing.
type Failure = writeback.Failure

// Stats returns the current counters.
func (c *Cache) Stats() Stats {
	s := Stats{
		RemoteReads: c.stats.remoteReads.Load(), RemoteReadBytes: c.stats.remoteReadBytes.Load(),
		LocalReads: c.stats.localReads.Load(), LocalReadBytes: c.stats.localReadBytes.Load(),
		Writes: c.stats.writes.Load(), WriteBytes: c.stats.writeBytes.Load(),
		DataSyncs: c.stats.fsyncs.Load(), Commits: c.ns.Stats().Commits,
		Checkpoints: c.ns.Stats().Checkpoints, NamespaceProblem: c.ns.Problem(),
		Misses: c.stats.misses.Load(), MissBytes: c.stats.missBytes.Load(),
		Evictions: c.stats.evictions.Load(), DirtyRefusals: c.dirty.Refusals(),
		UsedBytes: c.UsedBytes(), MaxBytes: c.lru.Max(), DirtyBytes: c.dirty.Bytes(), DirtyLimitBytes: c.dirty.Limit(),
	}
	w := c.wb.Stats()
	s.Uploads, s.UploadBytes, s.UploadErrors, s.Conflicts = w.Uploads, w.UploadBytes, w.UploadErrors, w.Conflicts
	s.JournalOps, s.LastError, s.Failing = w.JournalOps, w.LastError, w.Failing
	s.DirtyFiles, s.OldestDirty = c.dirty.Files(), c.dirty.Oldest()
	return s
}
