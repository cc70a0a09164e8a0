package posix_test

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/internal/testutil"
)

// TestSweepAtStart: New removes the temps earlier processes left, of
// both name forms, files and symlinks, at any depth, and leaves alone
// everything else, including names that only look like temps.
func TestSweepAtStart(t *testing.T) {
	root := t.TempDir()
	put := func(rel, body string) {
		t.Helper()
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	leftovers := []string{
		".filegate-tmp-0123456789abcdef",                    // the form without a tag
		"a/.filegate-tmp-00112233445566ff-8899aabbccddeeff", // another process's tag
		"a/b/c/.filegate-tmp-fedcba9876543210",
	}
	for _, rel := range leftovers {
		put(rel, "half an upload")
	}
	link := "a/.filegate-tmp-0000000000000001-0000000000000002"
	if err := os.Symlink("target", filepath.Join(root, link)); err != nil {
		t.Fatal(err)
	}
	leftovers = append(leftovers, link)
	kept := []string{
		"a/file",
		"a/.filegate-tmp-crashed",          // not a name we write
		"a/.filegate-tmp-0123456789ABCDEF", // nor this
		".filegate-tmp-0123456789abcdef0",
		"x.filegate-tmp-0123456789abcdef",
	}
	for _, rel := range kept {
		put(rel, "keep")
	}
	tmpDir := "d/.filegate-tmp-0123456789abcdef" // a directory: not ours
	if err := os.MkdirAll(filepath.Join(root, tmpDir), 0o755); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, tmpDir)
	// A symlinked directory is not followed.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, ".filegate-tmp-0123456789abcdef"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, "out/.filegate-tmp-0123456789abcdef")

	cfg := posix.DefaultConfig()
	cfg.Root = root
	s, err := posix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	<-s.Swept()
	for _, rel := range leftovers {
		if _, err := os.Lstat(filepath.Join(root, rel)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("leftover %s still there: %v", rel, err)
		}
	}
	for _, rel := range kept {
		if _, err := os.Lstat(filepath.Join(root, rel)); err != nil {
			t.Errorf("%s removed: %v", rel, err)
		}
	}
	if n, err := s.Sweep(t.Context()); n != 0 || err != nil {
		t.Errorf("second sweep removed %d, %v; want 0", n, err)
	}
}

// blockingReader hands out its body only once released.
type blockingReader struct {
	*strings.Reader
	release chan struct{}
}

func (b blockingReader) Read(p []byte) (int, error) {
	<-b.release
	return b.Reader.Read(p)
}

// TestSweepKeepsOwnTemps: a sweep while a Put of this store is writing
// its temp leaves that temp alone, and the Put lands.
func TestSweepKeepsOwnTemps(t *testing.T) {
	s := testutil.PosixStore(t)
	<-s.Swept()
	if err := os.Mkdir(filepath.Join(s.RootDir(), "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	body := blockingReader{strings.NewReader("slow upload"), make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := s.Put(t.Context(), "d/f", body, int64(body.Len()), nil)
		done <- err
	}()
	// Wait for the temp to exist: Put blocks in its first Read.
	for {
		ents, err := os.ReadDir(filepath.Join(s.RootDir(), "d"))
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("Put returned %v before it read its body", err)
		default:
		}
	}
	if n, err := s.Sweep(t.Context()); n != 0 || err != nil {
		t.Errorf("sweep during a Put removed %d, %v; want 0", n, err)
	}
	close(body.release)
	if err := <-done; err != nil {
		t.Fatalf("Put after the sweep: %v", err)
	}
	rc, err := s.Get(t.Context(), "d/f", 0, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); string(b) != "slow upload" {
		t.Errorf("read %q", b)
	}
	noTemps(t, s.RootDir())
}
