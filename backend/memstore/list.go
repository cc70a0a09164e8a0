package memstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/filegate/filegate/backend"
)

// List implements backend.Store. It snapshots the matching keys, so its
// memory grows with the store; that is fine for a test fake.
func (s *Store) List(ctx context.Context, opts backend.ListOptions, fn func(backend.ObjectInfo) error) error {
	if err := check(ctx, "list"); err != nil {
		return err
	}
	if opts.Delimiter != "" && opts.Delimiter != "/" {
		return fmt.Errorf("memstore: list: unsupported delimiter %q", opts.Delimiter)
	}
	s.mu.RLock()
	var items []backend.ObjectInfo
	for k, o := range s.objs {
		if strings.HasPrefix(k, opts.Prefix) {
			items = append(items, o.info(k))
		}
	}
	s.mu.RUnlock()
	sort.Slice(items, func(i, j int) bool { return items[i].Key < items[j].Key })

	last := ""
	for _, it := range items {
		if opts.Delimiter != "" {
			if i := strings.IndexByte(it.Key[len(opts.Prefix):], '/'); i >= 0 {
				// Keys under one common prefix sort together, so comparing
				// with the previous one is enough to roll them up.
				p := it.Key[:len(opts.Prefix)+i+1]
				if p == last {
					continue
				}
				// The marker sorts first under its prefix: when it is
				// there, the prefix carries its attributes.
				if it.Key != p {
					it = backend.ObjectInfo{Key: p}
				}
				it.Prefix = true
			}
		}
		last = it.Key
		if it.Key <= opts.StartAfter {
			continue
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("memstore: list: %w", err)
		}
		if err := fn(it); err != nil {
			if errors.Is(err, backend.ErrStopList) {
				return nil
			}
			return err
		}
	}
	return nil
}
