package content

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/filegate/filegate/cache/vfs"
	"github.com/filegate/filegate/internal/testutil"
)

// waitSpares waits until p holds n spares ready (the refiller runs in
// the background; a generous deadline only turns a hang into a failure).
func waitSpares(t *testing.T, p *sparePool, n int) {
	t.Helper()
	var got int
	if !testutil.Poll(30*time.Second, func() bool {
		p.mu.Lock()
		got = len(p.ready)
		p.mu.Unlock()
		return got >= n
	}) {
		t.Fatalf("%d spares ready, want %d", got, n)
	}
}

// startSpares has ft make its first data file, which starts the
// refiller, and waits for a full pool.
func startSpares(t *testing.T, ft *Files) {
	t.Helper()
	of, err := ft.Acquire(1<<40, true)
	if err != nil {
		t.Fatal(err)
	}
	ft.Release(of)
	waitSpares(t, ft.spares, ft.spares.target)
}

func newTestFileTable(t *testing.T, dir string) *Files {
	t.Helper()
	ft := NewFiles(vfs.OS, dir, 16)
	if err := ft.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.Close() })
	return ft
}

// TestSpareEmptyPool: with no spare ready, a new data file is created as
// ever, and the write does not wait.
func TestSpareEmptyPool(t *testing.T) {
	dir := t.TempDir()
	ft := newTestFileTable(t, dir)
	ft.spares = newSparePool(vfs.OS, filepath.Join(dir, SpareDirName), 0)
	of, err := ft.Acquire(7, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := of.File.WriteAt([]byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	ft.Release(of)
	if got, err := os.ReadFile(ft.Path(7)); err != nil || string(got) != "x" {
		t.Fatalf("data file holds %q, %v", got, err)
	}
	if n := len(testutil.DirInodes(t, filepath.Join(dir, SpareDirName))); n != 0 {
		t.Fatalf("%d spares made with a target of 0", n)
	}
	if !ft.fresh[7] {
		t.Fatal("a created data file is not fresh")
	}
}

// TestSpareLinkFails: a spare that vanished, or a data folder that
// did, makes the create fall back to creating the file, never failing
// the write; the pool goes on.
func TestSpareLinkFails(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	dir := t.TempDir()
	ft := newTestFileTable(t, dir)
	startSpares(t, ft)
	for _, name := range testutil.DirInodes(t, filepath.Join(dir, SpareDirName)) {
		if err := os.Remove(filepath.Join(dir, SpareDirName, name)); err != nil {
			t.Fatal(err)
		}
	}
	const gone, noFolder = Ino(0x1234), Ino(0x5678)
	if err := os.Remove(ft.dirOf(noFolder)); err != nil {
		t.Fatal(err)
	}
	for _, ino := range []Ino{gone, noFolder} {
		of, err := ft.Acquire(ino, true)
		if err != nil {
			t.Fatalf("inode %x: %v", ino, err)
		}
		if _, err := of.File.WriteAt([]byte("data"), 0); err != nil {
			t.Fatal(err)
		}
		ft.Release(of)
		if got, err := os.ReadFile(ft.Path(ino)); err != nil || string(got) != "data" {
			t.Fatalf("inode %x: data file holds %q, %v", ino, got, err)
		}
	}
	ft.spares.mu.Lock()
	disabled := ft.spares.disabled
	ft.spares.mu.Unlock()
	if disabled {
		t.Fatal("two failed links disabled the spares")
	}
	waitSpares(t, ft.spares, SpareTarget)
}

// TestSpareNeverReplaces: placing a spare where a file exists leaves the
// file as it is.
func TestSpareNeverReplaces(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	dir := t.TempDir()
	ft := newTestFileTable(t, dir)
	startSpares(t, ft)
	p := ft.Path(9)
	if err := os.WriteFile(p, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f := ft.spares.place(p); f != nil {
		f.Close()
		t.Fatal("a spare was placed over an existing file")
	}
	if got, err := os.ReadFile(p); err != nil || string(got) != "keep" {
		t.Fatalf("file holds %q, %v", got, err)
	}
}

// TestSpareCloseStopsRefiller: Close stops the refiller and closes
// the spares' descriptors.
func TestSpareCloseStopsRefiller(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	ignore := goleak.IgnoreCurrent()
	fds := testutil.OpenFDs()
	ft := NewFiles(vfs.OS, t.TempDir(), 16)
	if err := ft.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	startSpares(t, ft)
	if err := ft.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ft.spares.done:
	default:
		t.Fatal("Close returned with the refiller running")
	}
	if err := goleak.Find(ignore); err != nil {
		t.Fatal(err)
	}
	if now := testutil.OpenFDs(); now > fds {
		t.Fatalf("%d descriptors open after Close, %d before", now, fds)
	}
	// Closed, the pool starts nothing again.
	if _, ok := ft.spares.take(); ok {
		t.Fatal("a closed pool handed out a spare")
	}
}

// TestSpareDiskFull: when no inode is left, the refiller backs off and
// the write fails as a create would (ENOSPC); once room is made, writes
// work again and the pool fills up; Close stops a refiller backing off.
// It uses up the inodes of a small tmpfs.
func TestSpareDiskFull(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	dir := testutil.SmallDisk(t, "4m,nr_inodes=400")
	ft := newTestFileTable(t, dir)
	// Use up every inode left.
	var fillers []string
	for i := 0; ; i++ {
		p := filepath.Join(dir, "filler", strconv.Itoa(i))
		if i == 0 {
			if err := os.Mkdir(filepath.Dir(p), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		err := os.WriteFile(p, nil, 0o600)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, p)
	}
	testSpareDiskFull(t, ft, func() {
		for _, p := range fillers[:SpareTarget+8] {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestSpareDiskFullInjected is TestSpareDiskFull without root: every
// create fails with ENOSPC until room is made.
func TestSpareDiskFullInjected(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	var full atomic.Bool
	var refused atomic.Int64 // spares the refiller could not make
	full.Store(true)
	fsys := vfs.Inject(vfs.NewMem(), vfs.InjectorFunc(func(op vfs.Op) error {
		if !full.Load() || op.Kind != vfs.OpOpen || op.Flag&os.O_CREATE == 0 {
			return nil
		}
		if strings.Contains(op.Path, "/"+SpareDirName+"/") {
			refused.Add(1)
		}
		return syscall.ENOSPC
	}))
	const dir = "/cache/data"
	if err := fsys.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ft := NewFiles(fsys, dir, 16)
	if err := ft.MakeDirs(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ft.Close() })
	testSpareDiskFull(t, ft, func() {
		// Once the refiller is backing off.
		if !testutil.Poll(10*time.Second, func() bool { return refused.Load() != 0 }) {
			t.Fatal("the refiller tried no spare")
		}
		full.Store(false)
	})
}

// testSpareDiskFull checks ft, on a disk with no inode left until
// makeRoom.
func testSpareDiskFull(t *testing.T, ft *Files, makeRoom func()) {
	_, err := ft.Acquire(3, true)
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("create with no inode left: %v, want ENOSPC", err)
	}
	ft.spares.mu.Lock()
	started, ready := ft.spares.started, len(ft.spares.ready)
	ft.spares.mu.Unlock()
	if !started || ready != 0 {
		t.Fatalf("refiller started %v, %d spares ready with no inode left", started, ready)
	}
	makeRoom()
	// Room again: the write works (from a spare or created), and the
	// refiller, past its backoff, fills the pool.
	of, err := ft.Acquire(3, true)
	if err != nil {
		t.Fatal(err)
	}
	ft.Release(of)
	waitSpares(t, ft.spares, SpareTarget)
}

// BenchmarkFirstWrite measures the first 4 KiB write to new inodes, with
// spares and without (each data file created), each followed by an
// fdatasync of another file, as a namespace commit follows each NFS
// CREATE: the refiller works meanwhile. create-µs/op is the part spent
// making the data file. The loop leaves the refiller (nice 19) little
// idle CPU, so spares run short here: BenchmarkCreateSmallFile of
// package cache, with the cache's own commits between writes, is the
// closer measure.
func BenchmarkFirstWrite(b *testing.B) {
	for _, target := range []int{SpareTarget, 0} {
		name := "spares"
		if target == 0 {
			name = "created"
		}
		b.Run(name, func(b *testing.B) {
			dir := b.TempDir()
			ft := NewFiles(vfs.OS, dir, 64)
			if err := ft.MakeDirs(); err != nil {
				b.Fatal(err)
			}
			ft.spares = newSparePool(vfs.OS, filepath.Join(dir, SpareDirName), target)
			defer ft.Close()
			commit, err := os.Create(filepath.Join(dir, "commit"))
			if err != nil {
				b.Fatal(err)
			}
			defer commit.Close()
			data := make([]byte, 4<<10)
			ino := Ino(1)
			var creating time.Duration
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				start := time.Now()
				of, err := ft.Acquire(ino, true)
				if err != nil {
					b.Fatal(err)
				}
				creating += time.Since(start)
				if _, err := of.File.WriteAt(data, 0); err != nil {
					b.Fatal(err)
				}
				ft.Release(of)
				if _, err := commit.WriteAt(data[:512], 0); err != nil {
					b.Fatal(err)
				}
				if err := commit.Sync(); err != nil {
					b.Fatal(err)
				}
				ino++
			}
			b.ReportMetric(float64(creating.Microseconds())/float64(b.N), "create-µs/op")
		})
	}
}

// niceThreads lists the threads of this process at a nice value other
// than 0.
func niceThreads(t *testing.T) []string {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip("no /proc/self/task")
	}
	var nice []string
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "stat"))
		if err != nil {
			continue // ended meanwhile
		}
		// Fields after the command's closing parenthesis: state is 3,
		// nice is 19.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) > 16 && f[16] != "0" {
			nice = append(nice, task.Name()+":"+f[16])
		}
	}
	return nice
}

// TestSpareRefillerLeavesNoLowPriorityThread: the refiller runs at nice
// 19 on a thread of its own; once it stops, no thread of the process is
// left at that priority to serve other goroutines, and the thread is
// given back rather than ended where the priority can be restored (a
// thread ending kills children started from it with Pdeathsig).
func TestSpareRefillerLeavesNoLowPriorityThread(t *testing.T) {
	if !SparesSupported {
		t.Skip("spares are Linux only")
	}
	if n := niceThreads(t); len(n) != 0 {
		t.Skipf("threads already at another priority: %v", n)
	}
	dir := t.TempDir()
	ft := newTestFileTable(t, dir)
	startSpares(t, ft)
	low := niceThreads(t)
	if len(low) != 1 {
		t.Fatalf("threads at low priority: %v, want the refiller's", low)
	}
	ft.Close()
	if n := niceThreads(t); len(n) != 0 {
		t.Fatalf("threads left at low priority after close: %v", n)
	}
	if os.Geteuid() != 0 {
		return // raising a priority again needs CAP_SYS_NICE: the thread ends
	}
	tid := strings.Split(low[0], ":")[0]
	if _, err := os.Stat(filepath.Join("/proc/self/task", tid)); err != nil {
		t.Fatalf("the refiller's thread ended: %v", err)
	}
}
