package cache

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// syncFS makes everything written to the filesystem holding dir durable
// (syncfs(2): since Linux 5.8 it reports writeback errors). It reports
// whether it could try.
func syncFS(dir string) (bool, error) {
	d, err := os.Open(dir)
	if err != nil {
		return false, nil
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return true, fmt.Errorf("syncfs %s: %w", dir, err)
	}
	return true, nil
}
