package cache

import (
	"context"
	"errors"
	"io"
	"syscall"

	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// newFetcher returns the fetcher of c's chunks.
func (c *Cache) newFetcher() *content.Fetcher {
	return content.NewFetcher(content.FetcherConfig{
		Source: fetchSource{c}, Files: c.files, Fresh: c.fresh, LRU: c.lru,
		Concurrency: c.cfg.FetchConcurrency,
		Fetched: func(bytes int) {
			c.stats.remoteReads.Add(1)
			c.stats.remoteReadBytes.Add(int64(bytes))
		},
	})
}

// fetchSource is what the fetcher asks the cache: the namespace and the
// backend (content.Source).
type fetchSource struct{ c *Cache }

func (s fetchSource) Look(ino Ino, withKey bool) (content.State, error) {
	var st content.State
	err := s.c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		st.Local, st.Ver = n.Has(ns.FlagLocal), verOf(n)
		if st.Local {
			return nil
		}
		st.Have = s.c.presentFor(t, n)
		if withKey {
			st.Key, err = t.Key(n)
		}
		return err
	})
	return st, err
}

func (s fetchSource) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	return s.c.getRemote(ctx, key, off, length, etag)
}

func (s fetchSource) Changed(ctx context.Context, ino Ino, key string, ver content.Version) error {
	return s.c.refresh.FileChanged(ctx, ino, key, ver)
}

func (s fetchSource) Relist(ino Ino) { s.c.refresh.Relist(ino) }

// presentFor returns the chunks of n's version known present: recorded
// in the database, or fetched and not yet recorded.
func (c *Cache) presentFor(t *txn, n *ns.Inode) content.Bitmap {
	return c.fresh.Overlay(n.Ino, verOf(n), t.chunks(n.Ino))
}

// persistAll records the chunks fetched into every file (persistChunks).
func (c *Cache) persistAll() {
	for _, ino := range c.fresh.Inos() {
		if err := c.persistChunks(ino); err != nil && !errors.Is(err, syscall.ESTALE) {
			c.log.Warn("record fetched chunks", "op", "persist", "err", err)
		}
	}
}

// persistChunks syncs ino's data file and records the chunks fetched
// into it so far; a file whose chunks are all present becomes local.
// Chunks fetched for a version the namespace no longer holds (a refresh
// noted a new one meanwhile) are dropped, not recorded.
func (c *Cache) persistChunks(ino Ino) error {
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	snap := c.fresh.Snap(ino)
	if len(snap.Bits) == 0 {
		return nil
	}
	if err := c.syncData(ino); err != nil {
		return err
	}
	stale := false
	err := c.update(func(t *txn) error {
		stale = false
		n, err := t.get(ino)
		if err != nil || n.Has(ns.FlagLocal) {
			return err
		}
		if verOf(n) != snap.Ver {
			stale = true
			return nil
		}
		// Only chunks still fresh: those dropped since the snapshot
		// (dropStale) may be gone from the data file.
		b := c.fresh.Merge(snap, t.chunks(ino))
		if b.Full(content.ChunkCount(n.Size)) {
			n.Flags |= ns.FlagLocal
			b = nil
			if err := t.put(n); err != nil {
				return err
			}
		}
		return t.putChunks(ino, b)
	})
	if err != nil && !errors.Is(err, syscall.ESTALE) {
		return err
	}
	c.fresh.Done(snap, stale)
	return err
}

// dropStale drops the local content of ino, unless it is dirty: after a
// refresh removed it, or after writes gave up with what they wrote in
// its data file. Under the data lock no fetch writes meanwhile; whatever
// was fetched since goes too, in memory and in the database, before the
// data file does. (A refresh that notes a new version drops the old
// content in the same step: refreshHost.DropContent.)
func (c *Cache) dropStale(ino Ino) {
	mu := c.files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	end := c.beginDrop(ino)
	dropped := false
	defer func() { end(dropped) }()
	c.fresh.Drop(ino)
	// Nothing is recorded after the drop (persistChunks records only
	// fresh chunks), so what this view sees stays.
	dirty, recorded := false, false
	err := c.view(func(t *txn) error {
		n, err := t.get(ino)
		if errors.Is(err, syscall.ESTALE) {
			return nil // removed
		}
		if err != nil {
			return err
		}
		dirty = n.Has(ns.FlagDirty)
		recorded = n.Has(ns.FlagLocal) || len(t.chunks(ino)) > 0
		return nil
	})
	if err == nil && !dirty && recorded {
		err = c.update(func(t *txn) error {
			n, err := t.get(ino)
			if errors.Is(err, syscall.ESTALE) {
				return nil
			}
			if dirty = err == nil && n.Has(ns.FlagDirty); err != nil || dirty {
				return err
			}
			n.Flags &^= ns.FlagLocal
			if err := t.putChunks(ino, nil); err != nil {
				return err
			}
			return t.put(n)
		})
	}
	if err != nil {
		// The data file stays: chunks recorded present must be there.
		c.log.Warn("drop the cached content of a file changed in the cloud", "op", "refresh", "err", err)
		return
	}
	if !dirty {
		c.forget(ino)
		dropped = true
	}
}

// syncData fsyncs ino's data file, and its folder when the file is new,
// if it exists.
func (c *Cache) syncData(ino Ino) error {
	c.stats.fsyncs.Add(1)
	return c.files.Sync(ino)
}

// readAhead fetches the chunks after a sequential read in the background.
func (c *Cache) readAhead(ino Ino, off int64) {
	if c.cfg.ReadAheadBytes <= 0 {
		return
	}
	if !c.readAheads.TryStart() {
		return // enough fetching already
	}
	c.bg.Go(func() {
		defer c.readAheads.Done()
		c.bg.Guard("readahead", func() {
			if _, err := c.fetcher.EnsureRange(c.life, ino, off, off+c.cfg.ReadAheadBytes); err != nil && c.life.Err() == nil {
				c.log.Debug("read-ahead failed", "op", "readahead", "err", err)
			}
		})
	})
}

// verOf is the version of n's content in the cloud (content.VersionOf).
func verOf(n *ns.Inode) content.Version { return content.VersionOf(n) }
