package posix_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/posix"
)

// TestUnprivilegedChown checks that a gateway not running as root can
// still store files with foreign owners, keeping its own. As root it
// reruns itself as nobody.
func TestUnprivilegedChown(t *testing.T) {
	dir := os.Getenv("FILEGATE_TEST_UNPRIV_DIR")
	if os.Geteuid() == 0 {
		if dir != "" {
			t.Fatal("still root in the child")
		}
		dir = t.TempDir()
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		// The go build cache is private to root; run a copy.
		bin := filepath.Join(t.TempDir(), "posix.test")
		if err := copyFile(os.Args[0], bin); err != nil {
			t.Fatal(err)
		}
		// t.TempDir makes its directories 0700; let nobody in.
		os.Chmod(filepath.Dir(bin), 0o755)
		os.Chmod(filepath.Dir(filepath.Dir(bin)), 0o755)
		cmd := exec.Command(bin, "-test.run=^TestUnprivilegedChown$", "-test.v")
		cmd.Env = append(os.Environ(), "FILEGATE_TEST_UNPRIV_DIR="+dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child as nobody: %v\n%s", err, out)
		}
		if !strings.Contains(string(out), "--- PASS: TestUnprivilegedChown") {
			t.Fatalf("child did not run the test:\n%s", out)
		}
		return
	}
	if dir == "" {
		dir = t.TempDir()
	}
	cfg := posix.DefaultConfig()
	cfg.Root = dir
	s, err := posix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oi, err := s.Put(t.Context(), "owned", strings.NewReader("x"), 1, &backend.Attrs{Mode: 0o640, UID: 0, GID: 0})
	if err != nil {
		t.Fatalf("Put with a foreign owner: %v", err)
	}
	if oi.Attrs.UID != uint32(os.Geteuid()) || oi.Attrs.Mode != 0o640 {
		t.Errorf("Attrs = %+v, want our uid and the mode", oi.Attrs)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
