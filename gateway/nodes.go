package gateway

import (
	"context"

	"github.com/filegate/filegate/cache"
)

// nodes is the part of the cache's inode API the gateway uses. *cache.Cache
// satisfies it; tests wrap it to inject faults.
type nodes interface {
	Lookup(ctx context.Context, dir cache.Ino, name string) (cache.Attr, error)
	GetAttr(ctx context.Context, ino cache.Ino) (cache.Attr, error)
	SetAttr(ctx context.Context, ino cache.Ino, set cache.SetAttr) (cache.Attr, error)
	Create(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, error)
	Mkdir(ctx context.Context, dir cache.Ino, name string, a cache.NewAttr) (cache.Attr, error)
	Symlink(ctx context.Context, dir cache.Ino, name, target string, a cache.NewAttr) (cache.Attr, error)
	Readlink(ctx context.Context, ino cache.Ino) (string, error)
	Link(ctx context.Context, ino, dir cache.Ino, name string) (cache.Attr, error)
	Remove(ctx context.Context, dir cache.Ino, name string) error
	Rmdir(ctx context.Context, dir cache.Ino, name string) error
	Rename(ctx context.Context, srcDir cache.Ino, srcName string, dstDir cache.Ino, dstName string) error
	ReadDir(ctx context.Context, dir cache.Ino, cookie uint64, fn func(cache.DirEntry) bool) error
	ReadAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error)
	WriteAt(ctx context.Context, ino cache.Ino, p []byte, off int64) (int, error)
	Commit(ctx context.Context, ino cache.Ino) error
	Path(ctx context.Context, ino cache.Ino) (string, error)
	StatFS(ctx context.Context) (cache.FSStat, error)
}

var _ nodes = (*cache.Cache)(nil)
