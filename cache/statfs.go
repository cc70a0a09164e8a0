package cache

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// StatFS reports the capacity clients see: the backend's when it has one
// (a POSIX directory), else the cache disk's.
func (c *Cache) StatFS(ctx context.Context) (FSStat, error) {
	if r, ok := c.store.(backend.UsageReporter); ok {
		u, err := r.Usage(ctx)
		if err == nil {
			return FSStat{TotalBytes: u.TotalBytes, FreeBytes: u.FreeBytes, AvailBytes: u.FreeBytes,
				TotalFiles: u.TotalFiles, FreeFiles: u.FreeFiles}, nil
		}
		c.log.Warn("backend usage", "op", "statfs", "err", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(c.cfg.Dir, &st); err != nil {
		return FSStat{}, fmt.Errorf("cache: statfs %s: %w", c.cfg.Dir, err)
	}
	bs := uint64(st.Frsize)
	if bs == 0 {
		bs = uint64(st.Bsize)
	}
	return FSStat{
		TotalBytes: st.Blocks * bs, FreeBytes: st.Bfree * bs, AvailBytes: st.Bavail * bs,
		TotalFiles: st.Files, FreeFiles: st.Ffree,
	}, nil
}
