package posix

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/backend"
)

// Usage implements backend.UsageReporter with statfs of Root. Free counts
// are what an unprivileged user may still use, as df shows them.
func (s *Store) Usage(ctx context.Context) (backend.Usage, error) {
	if err := ctx.Err(); err != nil {
		return backend.Usage{}, fmt.Errorf("posix: usage: %w", err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(s.cfg.Root, &st); err != nil {
		return backend.Usage{}, fmt.Errorf("posix: usage: statfs: %w", err)
	}
	unit := uint64(st.Frsize)
	if unit == 0 {
		unit = uint64(st.Bsize)
	}
	return backend.Usage{
		TotalBytes: st.Blocks * unit,
		FreeBytes:  st.Bavail * unit,
		TotalFiles: st.Files,
		FreeFiles:  st.Ffree,
	}, nil
}
