package testutil

import (
	"os"
	"os/exec"
	"testing"
)

// SmallDisk mounts a tmpfs with the given options (size, and nr_inodes
// if wanted: "4m,nr_inodes=400") for the test, as root; it skips
// elsewhere, unless FILEGATE_TEST_NO_SKIP is set (CI runs as root and
// forbids skips).
func SmallDisk(t testing.TB, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("FILEGATE_TEST_NO_SKIP") != "" {
			t.Fatal("needs root to mount a small tmpfs")
		}
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}
