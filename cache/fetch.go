package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/ns"
)

// chunkBufs recycles the chunk-sized buffers of fetches, so a cold read
// does not allocate a megabyte per chunk.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, content.ChunkSize); return &b }}

// errVersionChanged ends a fetch whose object changed meanwhile: what it
// fetched belongs to the old version.
var errVersionChanged = errors.New("the object changed while it was fetched")

// ensureRange makes bytes [off, end) of ino's content local, fetching the
// missing chunks from the backend in parallel. Concurrent callers share
// the fetch of a chunk. New chunks are marked present in memory as they
// are written and in the database only after their data is synced
// (persistChunks),
// so a crash never leaves a chunk marked present that is not on disk: at
// worst it is fetched again. When the object changes during the fetch
// (a refresh noted a new version), the new version is fetched.
func (c *Cache) ensureRange(ctx context.Context, ino Ino, off, end int64) error {
	_, err := c.ensureRangeOf(ctx, ino, off, end)
	return err
}

// ensureRangeOf is ensureRange, returning the version it made the range
// local for.
func (c *Cache) ensureRangeOf(ctx context.Context, ino Ino, off, end int64) (content.Version, error) {
	c.files.Pin(ino)
	defer c.files.Unpin(ino)
	for try := 1; ; try++ {
		ver, err := c.ensureVersion(ctx, ino, off, end)
		if !errors.Is(err, errVersionChanged) {
			return ver, err
		}
		if try == 3 {
			// Changing faster than it can be read: the client
			// tries again later.
			return ver, fmt.Errorf("%w: %w", err, syscall.EAGAIN)
		}
	}
}

// ensureVersion is ensureRange for the version ino has now, which it
// returns.
func (c *Cache) ensureVersion(ctx context.Context, ino Ino, off, end int64) (content.Version, error) {
	var local bool
	var key string
	var ver content.Version
	var have content.Bitmap
	err := c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err != nil {
			return err
		}
		local, ver = n.Has(ns.FlagLocal), verOf(n)
		if !local {
			key, err = t.Key(n)
			have = c.presentFor(t, n)
		}
		return err
	})
	if err != nil || local {
		return ver, err
	}
	size := ver.Size
	end = min(end, size)
	if off >= end {
		return ver, nil
	}
	first, last := content.ChunkRange(off, end)
	var missing []int64
	for i := first; i <= last; i++ {
		if !have.Has(i) {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 {
		return ver, nil
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.cfg.FetchConcurrency)
	for _, i := range missing {
		g.Go(func() error {
			// Only fetches of one version are shared.
			sf := fmt.Sprintf("chunk/%d/%d/%d/%d/%s", ino, i, ver.Size, ver.Mtime, ver.ETag)
			_, err, _ := c.loads.Do(sf, func() (any, error) {
				return nil, c.fetchChunk(gctx, ino, key, ver, i)
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return ver, err
	}
	err = c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err == nil && !n.Has(ns.FlagLocal) && verOf(n) != ver {
			err = errVersionChanged // fetched for nothing: a new version came
		}
		return err
	})
	if err != nil {
		return ver, err
	}
	for _, i := range missing {
		have.Set(i)
	}
	c.lru.Account(ino, min(have.Count(content.ChunkCount(size))*content.ChunkSize, size))
	return ver, nil
}

// present returns the chunks of ino known present: recorded in the
// database, or fetched and not yet recorded.
func (c *Cache) present(t *txn, ino Ino) content.Bitmap {
	n, err := t.get(ino)
	if err != nil {
		return nil
	}
	return c.presentFor(t, n)
}

// presentFor is present for the version of n.
func (c *Cache) presentFor(t *txn, n *ns.Inode) content.Bitmap {
	return c.fresh.Overlay(n.Ino, verOf(n), t.chunks(n.Ino))
}

func (c *Cache) kickPersist() {
	select {
	case c.persistKick <- struct{}{}:
	default:
	}
}

// runPersister records fetched chunks in the database in batches: one
// fsync of a data file and one transaction for many chunks, instead of
// one each.
func (c *Cache) runPersister(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			c.persistAll()
			return
		case <-t.C:
		case <-c.persistKick:
		}
		c.guard("persist", c.persistAll)
	}
}

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

// dropFresh forgets fetched chunks not yet recorded, when ino's local
// content goes away.
func (c *Cache) dropFresh(ino Ino) {
	c.fresh.Drop(ino)
}

// fetchChunk reads chunk i of key, version ver, from the backend into
// ino's data file, unless the chunk became local meanwhile: local data
// always wins over what the backend had. It writes nothing when the
// namespace holds another version by then.
func (c *Cache) fetchChunk(ctx context.Context, ino Ino, key string, ver content.Version, i int64) error {
	off := i * content.ChunkSize
	length := min(content.ChunkSize, ver.Size-off)
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := (*bp)[:length]
	body, err := c.getRemote(ctx, key, off, length, ver.ETag)
	if errors.Is(err, backend.ErrChanged) {
		// Another version is in the cloud now: its chunks are not
		// taken for this one's. The read starts over with it.
		if rerr := c.refreshFile(ctx, ino, key, ver); rerr != nil {
			return fmt.Errorf("fetch %s at %d: %w (the new version: %w)", key, off, errVersionChanged, rerr)
		}
		return fmt.Errorf("fetch %s at %d: %w: %w", key, off, errVersionChanged, err)
	}
	if err != nil {
		return err
	}
	got, err := io.ReadFull(body, buf)
	body.Close()
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		// The object is shorter than the size we know: changed in the
		// cloud (a store that could not tell by the ETag). The bytes
		// it lacks are not zeros: the file reads again once it has
		// the new version.
		if rerr := c.refreshFile(ctx, ino, key, ver); rerr != nil {
			c.refreshOf(ino)
		}
		return fmt.Errorf("fetch %s at %d: %d bytes of %d: %w", key, off, got, length, errVersionChanged)
	}
	if err != nil {
		return fmt.Errorf("fetch %s at %d: %w", key, off, err)
	}
	c.stats.remoteReads.Add(1)
	c.stats.remoteReadBytes.Add(int64(got))
	mu := c.dataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	skip := false
	err = c.view(func(t *txn) error {
		n, err := t.get(ino)
		switch {
		case err != nil:
			return err
		case n.Has(ns.FlagLocal):
			skip = true
		case verOf(n) != ver:
			return errVersionChanged
		default:
			skip = c.presentFor(t, n).Has(i)
		}
		return nil
	})
	if err != nil || skip {
		return err
	}
	of, err := c.files.Acquire(ino, true)
	if err != nil {
		return err
	}
	defer c.files.Release(of)
	if _, err := of.File.WriteAt(buf, off); err != nil {
		return err
	}
	// Marked under the data lock that covered the write, so dropStale
	// finds either neither or both. ver is the version the namespace
	// holds: fresh chunks of another go.
	if c.fresh.Mark(ino, ver, i) {
		c.kickPersist()
	}
	return nil
}

// refreshOf lists the directory of ino again soon: its object changed.
func (c *Cache) refreshOf(ino Ino) {
	var parent Ino
	_ = c.view(func(t *txn) error {
		n, err := t.get(ino)
		if err == nil {
			parent = n.Parent
		}
		return err
	})
	if parent != 0 {
		c.refreshLater(parent)
	}
}

// dropStale drops the local content of ino, unless it is dirty: after a
// refresh removed it, or after writes gave up with what they wrote in
// its data file. Under the data lock no fetch writes meanwhile; whatever
// was fetched since goes too, in memory and in the database, before the
// data file does. (A refresh that notes a new version drops the old
// content in the same step: takeVersion.)
func (c *Cache) dropStale(ino Ino) {
	mu := c.dataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	end := c.beginDrop(ino)
	dropped := false
	defer func() { end(dropped) }()
	c.dropFresh(ino)
	// Nothing is recorded after dropFresh (persistChunks records only
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

// dataLock serializes writes into one inode's data file between fetches
// and client writes, so a late fetch never overwrites newer local data
// (content.Files.DataLock).
func (c *Cache) dataLock(ino Ino) *sync.Mutex { return c.files.DataLock(ino) }

// readAhead fetches the chunks after a sequential read in the background.
func (c *Cache) readAhead(ino Ino, off int64) {
	if c.cfg.ReadAheadBytes <= 0 {
		return
	}
	if !c.readAheads.TryStart() {
		return // enough fetching already
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer c.readAheads.Done()
		c.guard("readahead", func() {
			if err := c.ensureRange(c.life, ino, off, off+c.cfg.ReadAheadBytes); err != nil && c.life.Err() == nil {
				c.log.Debug("read-ahead failed", "op", "readahead", "err", err)
			}
		})
	}()
}

// noteRead records a read and reports whether it continued the previous
// one, which makes the reader sequential.
func (c *Cache) noteRead(ino Ino, off, end int64) bool { return c.readAheads.Note(ino, off, end) }

// verOf is the version of n's content in the cloud (content.VersionOf).
func verOf(n *ns.Inode) content.Version { return content.VersionOf(n) }
