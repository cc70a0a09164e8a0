package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// backendTree makes a POSIX backend as filegate would leave it for the
// listing below: work/a.txt, work/d/, work/l -> a.txt, and the inode of
// work/h1 and work/d/h2 (hard links) at h1 only.
func backendTree(t *testing.T) (root string, listing string) {
	t.Helper()
	root = t.TempDir()
	w := filepath.Join(root, "work")
	mt := time.Unix(1600000000, 500000000)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(w, "d"), 0o755))
	must(syscall.Chmod(filepath.Join(w, "d"), 0o2775)) // os.Chmod wants os.ModeSetgid
	must(os.WriteFile(filepath.Join(w, "a.txt"), []byte("alpha"), 0o640))
	must(os.Chmod(filepath.Join(w, "a.txt"), 0o640))
	must(os.WriteFile(filepath.Join(w, "h1"), []byte("linked"), 0o644))
	must(os.Symlink("a.txt", filepath.Join(w, "l")))
	for _, f := range []string{"a.txt", "h1"} {
		must(os.Chtimes(filepath.Join(w, f), mt, mt))
	}
	lt := fmt.Sprint(mt.Unix())
	must(lutimes(filepath.Join(w, "l"), mt))
	uid, gid := os.Getuid(), os.Getgid()
	line := func(path, typ, mode, size, mtime, nlink, group, data string) string {
		return strings.Join([]string{path, typ, mode, fmt.Sprint(uid), fmt.Sprint(gid), size, mtime, nlink, group, data}, "\t") + "\n"
	}
	listing = line("work/a.txt", "f", "0640", "5", lt+".5000000000", "1", "-", sum("alpha")) +
		line("work/d", "d", "02775", "-", "1.0", "-", "-", "-") +
		line("work/d/h2", "f", "0644", "6", lt+".5000000000", "2", "work/d/h2", sum("linked")) +
		line("work/h1", "f", "0644", "6", lt+".5000000000", "2", "work/d/h2", sum("linked")) +
		line("work/l", "l", "0777", "5", lt+".5000000000", "1", "-", "a.txt") +
		line("other/x", "f", "0644", "1", "1.0", "1", "-", sum("x"))
	return root, listing
}

func check(t *testing.T, root, listing string) []string {
	t.Helper()
	name := filepath.Join(t.TempDir(), "listing")
	if err := os.WriteFile(name, []byte(listing), 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := readListing(name, "work")
	if err != nil {
		t.Fatal(err)
	}
	got, err := posixEntries(root, "work")
	if err != nil {
		t.Fatal(err)
	}
	return compare(want, got)
}

func TestMatchingBackend(t *testing.T) {
	root, listing := backendTree(t)
	if p := check(t, root, listing); len(p) != 0 {
		t.Fatalf("problems in a matching backend: %q", p)
	}
}

func TestDifferences(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(t *testing.T, w string)
		want   string
	}{
		"content": {func(t *testing.T, w string) { write(t, filepath.Join(w, "a.txt"), "alphA") }, "work/a.txt: sha256"},
		"size":    {func(t *testing.T, w string) { write(t, filepath.Join(w, "a.txt"), "alph") }, "work/a.txt: size 4"},
		"mode":    {func(t *testing.T, w string) { os.Chmod(filepath.Join(w, "a.txt"), 0o644) }, "work/a.txt: mode 0644"},
		"dir mode": {func(t *testing.T, w string) { os.Chmod(filepath.Join(w, "d"), 0o755) },
			"work/d: mode 0755"},
		"mtime": {func(t *testing.T, w string) {
			os.Chtimes(filepath.Join(w, "a.txt"), time.Unix(1600000000, 0), time.Unix(1600000000, 0))
		}, "work/a.txt: mtime 1600000000000000000"},
		"missing": {func(t *testing.T, w string) { os.Remove(filepath.Join(w, "a.txt")) }, "work/a.txt: missing"},
		"extra": {func(t *testing.T, w string) { write(t, filepath.Join(w, "d", ".nfs0001")) },
			"work/d/.nfs0001: in the backend but not on the share"},
		"symlink target": {func(t *testing.T, w string) {
			os.Remove(filepath.Join(w, "l"))
			os.Symlink("b.txt", filepath.Join(w, "l"))
		}, "work/l: target b.txt"},
		"type": {func(t *testing.T, w string) {
			os.Remove(filepath.Join(w, "l"))
			write(t, filepath.Join(w, "l"), "a.txt")
		},
			"work/l: type f"},
		"hard link under both names": {func(t *testing.T, w string) { os.Link(filepath.Join(w, "h1"), filepath.Join(w, "d", "h2")) },
			"under 2 of its 2 names"},
		"hard link under none": {func(t *testing.T, w string) { os.Remove(filepath.Join(w, "h1")) },
			"under 0 of its 2 names"},
	} {
		t.Run(name, func(t *testing.T) {
			root, listing := backendTree(t)
			tc.change(t, filepath.Join(root, "work"))
			p := check(t, root, listing)
			if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), tc.want) {
				t.Fatalf("problems %q, want one with %q", p, tc.want)
			}
		})
	}
}

func write(t *testing.T, name string, content ...string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(strings.Join(content, "")), 0o640); err != nil {
		t.Fatal(err)
	}
}

func TestParseFindTime(t *testing.T) {
	for in, want := range map[string]int64{
		"1600000000.5000000000": 1600000000500000000,
		"2208988800.1234567890": 2208988800123456789,
		"489000000.0000000000":  489000000000000000,
		"12":                    12000000000,
	} {
		if got, err := parseFindTime(in); err != nil || got != want {
			t.Errorf("parseFindTime(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
}

func lutimes(path string, t time.Time) error {
	ts := unix.NsecToTimespec(t.UnixNano())
	return unix.UtimesNanoAt(unix.AT_FDCWD, path, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
}
