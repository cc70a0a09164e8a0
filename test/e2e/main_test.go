package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// filegateBin is the real binary, built once by TestMain.
var filegateBin string

// raceEnabled is set when the tests run under the race detector
// (race_test.go).
var raceEnabled bool

// TestMain builds `filegate` for the crash tests, runs the tests, stops
// the shared S3 server, and fails the run if a goroutine outlives them.
// go-nfs-client starts a cache janitor per mounted Target that never
// exits; it is the only one ignored.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "filegate-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	filegateBin = filepath.Join(dir, "filegate")
	args := []string{"build", "-o", filegateBin}
	if raceEnabled && os.Getenv("FILEGATE_E2E_RACE_BINARY") == "1" {
		// The daemon under the race detector too: slower, so opt-in.
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/filegate/filegate/cmd/filegate")...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build filegate: %v\n", err)
		return 1
	}
	code := m.Run()
	s3test.StopShared()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreAnyFunction("github.com/willscott/go-nfs-client/nfs.(*Target).cleanupCache")); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: leaked goroutines: %v\n", err)
			return 1
		}
	}
	return code
}
