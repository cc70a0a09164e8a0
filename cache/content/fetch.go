package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"

	"github.com/filegate/filegate/backend"
)

// ErrVersionChanged ends a fetch whose object changed meanwhile: what it
// fetched belongs to the old version.
var ErrVersionChanged = errors.New("the object changed while it was fetched")

// chunkBufs recycles the chunk-sized buffers of fetches, so a cold read
// does not allocate a megabyte per chunk.
var chunkBufs = sync.Pool{New: func() any { b := make([]byte, ChunkSize); return &b }}

// State is what the namespace holds of a file's content now.
type State struct {
	// Local: the content is wholly in the data file.
	Local bool
	// Ver is the version of the cloud object.
	Ver Version
	// Have is the chunks present (recorded, and fresh of Ver) when the
	// content is not local; Key is the object's key then, when Look
	// was asked for it.
	Have Bitmap
	Key  string
}

// Source is what a Fetcher asks the rest of the cache: the namespace,
// which knows a file's version and key, and the backend.
type Source interface {
	// Look returns the state of ino's content now, read in one
	// namespace view, with its key when withKey is set; ESTALE when ino
	// is gone.
	Look(ino Ino, withKey bool) (State, error)
	// Get opens [off, off+length) of key, of the version etag names.
	Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error)
	// Changed gives ino the version the store holds now of its object
	// at key, after a fetch for ver found another there.
	Changed(ctx context.Context, ino Ino, key string, ver Version) error
	// Relist has ino's folder listed again soon: its object changed
	// in a way Changed could not take.
	Relist(ino Ino)
}

// FetcherConfig is what a Fetcher works with.
type FetcherConfig struct {
	Source Source
	Files  *Files
	Fresh  *Fresh
	LRU    *LRU
	// Concurrency bounds the parallel ranged GETs of one EnsureRange.
	Concurrency int
	// Fetched is told of each chunk read from the backend, for the
	// cache's statistics.
	Fetched func(bytes int)
}

// Fetcher makes ranges of files local, fetching the missing chunks from
// the backend in parallel; concurrent callers share the fetch of a
// chunk. It marks new chunks fresh as it writes them; recording them in
// the namespace, once their data file is synced, is the cache's. So a
// crash never leaves a chunk marked present that is not on disk: at
// worst it is fetched again.
type Fetcher struct {
	cfg FetcherConfig
	// chunks shares the fetch of one chunk of one version.
	chunks singleflight.Group
}

// NewFetcher returns a Fetcher of cfg.
func NewFetcher(cfg FetcherConfig) *Fetcher { return &Fetcher{cfg: cfg} }

// EnsureRange makes bytes [off, end) of ino's content local and returns
// the version it made them local for. When the object changes during the
// fetch (the namespace noted a new version), the new version is fetched;
// when it keeps changing, it fails with EAGAIN.
func (f *Fetcher) EnsureRange(ctx context.Context, ino Ino, off, end int64) (Version, error) {
	f.cfg.Files.Pin(ino)
	defer f.cfg.Files.Unpin(ino)
	for try := 1; ; try++ {
		ver, err := f.ensureVersion(ctx, ino, off, end)
		if !errors.Is(err, ErrVersionChanged) {
			return ver, err
		}
		if try == 3 {
			// Changing faster than it can be read: the client
			// tries again later.
			return ver, fmt.Errorf("%w: %w", err, syscall.EAGAIN)
		}
	}
}

// ensureVersion is EnsureRange for the version ino has now, which it
// returns.
func (f *Fetcher) ensureVersion(ctx context.Context, ino Ino, off, end int64) (Version, error) {
	st, err := f.cfg.Source.Look(ino, true)
	if err != nil || st.Local {
		return st.Ver, err
	}
	ver, have := st.Ver, st.Have
	size := ver.Size
	end = min(end, size)
	if off >= end {
		return ver, nil
	}
	first, last := ChunkRange(off, end)
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
	g.SetLimit(f.cfg.Concurrency)
	for _, i := range missing {
		g.Go(func() error {
			// Only fetches of one version are shared.
			sf := fmt.Sprintf("%d/%d/%d/%d/%s", ino, i, ver.Size, ver.Mtime, ver.ETag)
			_, err, _ := f.chunks.Do(sf, func() (any, error) {
				return nil, f.fetchChunk(gctx, ino, st.Key, ver, i)
			})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return ver, err
	}
	now, err := f.cfg.Source.Look(ino, false)
	if err != nil {
		return ver, err
	}
	if !now.Local && now.Ver != ver {
		return ver, ErrVersionChanged // fetched for nothing: a new version came
	}
	for _, i := range missing {
		have.Set(i)
	}
	f.cfg.LRU.Account(ino, min(have.Count(ChunkCount(size))*ChunkSize, size))
	return ver, nil
}

// fetchChunk reads chunk i of key, version ver, from the backend into
// ino's data file, unless the chunk became local meanwhile: local data
// always wins over what the backend had. It writes nothing when the
// namespace holds another version by then.
func (f *Fetcher) fetchChunk(ctx context.Context, ino Ino, key string, ver Version, i int64) error {
	src := f.cfg.Source
	off := i * ChunkSize
	length := min(ChunkSize, ver.Size-off)
	bp := chunkBufs.Get().(*[]byte)
	defer chunkBufs.Put(bp)
	buf := (*bp)[:length]
	body, err := src.Get(ctx, key, off, length, ver.ETag)
	if errors.Is(err, backend.ErrChanged) {
		// Another version is in the cloud now: its chunks are not
		// taken for this one's. The read starts over with it.
		if rerr := src.Changed(ctx, ino, key, ver); rerr != nil {
			return fmt.Errorf("fetch %s at %d: %w (the new version: %w)", key, off, ErrVersionChanged, rerr)
		}
		return fmt.Errorf("fetch %s at %d: %w: %w", key, off, ErrVersionChanged, err)
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
		if rerr := src.Changed(ctx, ino, key, ver); rerr != nil {
			src.Relist(ino)
		}
		return fmt.Errorf("fetch %s at %d: %d bytes of %d: %w", key, off, got, length, ErrVersionChanged)
	}
	if err != nil {
		return fmt.Errorf("fetch %s at %d: %w", key, off, err)
	}
	f.cfg.Fetched(got)
	mu := f.cfg.Files.DataLock(ino)
	mu.Lock()
	defer mu.Unlock()
	st, err := src.Look(ino, false)
	switch {
	case err != nil:
		return err
	case st.Local:
		return nil
	case st.Ver != ver:
		return ErrVersionChanged
	case st.Have.Has(i):
		return nil
	}
	of, err := f.cfg.Files.Acquire(ino, true)
	if err != nil {
		return err
	}
	defer f.cfg.Files.Release(of)
	if _, err := of.File.WriteAt(buf, off); err != nil {
		return err
	}
	// Marked under the data lock that covered the write, so a drop
	// under it finds either neither or both. ver is the version the
	// namespace holds: fresh chunks of another go.
	f.cfg.Fresh.Mark(ino, ver, i)
	return nil
}
