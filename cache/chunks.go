package cache

import "github.com/filegate/filegate/cache/content"

// chunks returns the chunk bitmap of ino (nil when none are recorded).
func (t *txn) chunks(ino Ino) content.Bitmap { return content.Chunks(t.Tx, ino) }

// putChunks records b as the chunks of ino present (content.PutChunks).
func (t *txn) putChunks(ino Ino, b content.Bitmap) error { return content.PutChunks(t.Tx, ino, b) }
