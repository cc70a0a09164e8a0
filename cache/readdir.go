package cache

import (
	"bytes"
	"context"

	"github.com/filegate/filegate/cache/ns"
)

// ReadDir calls fn for the entries of dir after cookie (0: from the
// start), in cookie order, until fn returns false. "." and ".." are not
// listed. Cookies stay valid across additions and removals: a listing
// resumed from a cookie sees every entry that existed throughout exactly
// once.
func (c *Cache) ReadDir(ctx context.Context, dir Ino, cookie uint64, fn func(DirEntry) bool) error {
	if err := c.refresh.LoadDir(ctx, dir); err != nil {
		return err
	}
	// Entries are read in pages, each in its own short transaction, so
	// fn may call back into the cache and a huge listing never holds the
	// database.
	const page = 256
	for {
		var ents []DirEntry
		err := c.view(func(t *txn) error {
			if _, err := t.GetDir(dir); err != nil {
				return err
			}
			prefix := ns.InoKey(dir)
			cur := t.Cookies.Cursor()
			for k, v := cur.Seek(ns.CookieKey(dir, cookie+1)); k != nil && bytes.HasPrefix(k, prefix) && len(ents) < page; k, v = cur.Next() {
				child, _, mode, err := ns.ParseDirent(t.Dirents.Get(ns.DirentKey(dir, string(v))))
				if err != nil {
					return err
				}
				ents = append(ents, DirEntry{Name: string(v), Ino: child, Cookie: beUint64(k[8:]), Mode: mode})
			}
			return nil
		})
		if err != nil {
			return wrap("readdir", "", err)
		}
		for _, e := range ents {
			if !fn(e) {
				return nil
			}
			cookie = e.Cookie
		}
		if len(ents) < page {
			return nil
		}
	}
}
