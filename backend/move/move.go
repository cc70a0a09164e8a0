package move

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend"
)

// concurrency bounds the copies and deletes of a Tree in flight at once:
// in an object store each key is one request.
const concurrency = 16

// batchKeys is how many listed keys Tree copies before it deletes them,
// which bounds its memory however many keys the directory holds. A
// variable so tests can span batches with few keys.
var batchKeys = 1000

// Key moves the key from to the name to, replacing what is there: a
// file's key, or a directory marker ("a/") and everything below it. For a
// key it returns the object now at to when it can tell (zero otherwise:
// the move is done, only the new version is unknown); for a marker it
// returns the zero ObjectInfo.
//
// With a Renamer the move is the store's, and the object is a Stat of to
// after it. Otherwise a key is copied (the object is Copy's answer, so
// no extra request) and then deleted, and a marker is moved by Tree. A
// missing from is fs.ErrNotExist, as after a move that completed: a
// caller replaying a move may take it for done.
func Key(ctx context.Context, s backend.Store, from, to string) (backend.ObjectInfo, error) {
	dir := strings.HasSuffix(from, "/")
	if r, ok := s.(backend.Renamer); ok {
		if err := r.Rename(ctx, from, to); err != nil || dir {
			return backend.ObjectInfo{}, err
		}
		moved, err := s.Stat(ctx, to)
		if err != nil {
			return backend.ObjectInfo{}, nil // moved; only its new version is unknown
		}
		return moved, nil
	}
	if dir {
		return backend.ObjectInfo{}, Tree(ctx, s, from, to)
	}
	moved, err := s.Copy(ctx, from, to, nil)
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	return moved, s.Delete(ctx, from)
}

// Tree moves every key starting with from (a directory marker and
// everything below it) to the same name under to, by Copy and Delete, on
// a store that cannot rename. Keys are listed alone, with no metadata,
// copied in parallel batches and each batch deleted after it is copied;
// directory markers are deleted last, deepest first, so a store with real
// directories sees each one empty. A crash or an error midway leaves
// every object in at least one place, and calling Tree again finishes the
// move: a key gone between listing and copy was moved already.
func Tree(ctx context.Context, s backend.Store, from, to string) error {
	var keys, markers []string
	moveBatch := func() error {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(concurrency)
		for _, k := range keys {
			g.Go(func() error {
				_, err := s.Copy(gctx, k, to+strings.TrimPrefix(k, from), nil)
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		g, gctx = errgroup.WithContext(ctx)
		g.SetLimit(concurrency)
		for _, k := range keys {
			if strings.HasSuffix(k, "/") {
				// Kept for the end, on stores where a non-empty
				// directory cannot be deleted.
				markers = append(markers, k)
				continue
			}
			g.Go(func() error { return s.Delete(gctx, k) })
		}
		keys = keys[:0]
		return g.Wait()
	}
	deleteMarkers := func() error {
		slices.SortFunc(markers, func(a, b string) int { return len(b) - len(a) })
		for _, k := range markers {
			if err := s.Delete(ctx, k); err != nil {
				return err
			}
		}
		return nil
	}
	seenMarker := map[string]bool{}
	for {
		err := s.List(ctx, backend.ListOptions{Prefix: from, KeysOnly: true}, func(o backend.ObjectInfo) error {
			if seenMarker[o.Key] {
				return nil // copied already; deleted at the end
			}
			if strings.HasSuffix(o.Key, "/") {
				seenMarker[o.Key] = true
			}
			keys = append(keys, o.Key)
			if len(keys) >= batchKeys {
				return backend.ErrStopList
			}
			return nil
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			return deleteMarkers()
		}
		if err := moveBatch(); err != nil {
			return err
		}
	}
}
