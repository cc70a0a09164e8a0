package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/cache/content"
	"github.com/filegate/filegate/cache/vfs"
)

// powerCut is an injector that cuts the power of a vfs.Mem before its
// at-th change (1-based; 0 never): it takes the CrashClone then, and
// from then on every operation fails with EIO, as on a machine that is
// off. Changes in the spare folder are not counted, since the refiller
// makes spares at times of its own, but fail alike after the cut.
type powerCut struct {
	mem *vfs.Mem
	at  int

	mu sync.Mutex
	// armed: the cache is open, changes count from now.
	armed bool
	seen  int
	clone *vfs.Mem
	// where is the operation the power was cut before.
	where string
}

func (p *powerCut) Inject(op vfs.Op) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clone != nil {
		return syscall.EIO
	}
	if !p.armed || !op.Changes() || strings.Contains(op.Path, "/"+content.SpareDirName+"/") {
		return nil
	}
	p.seen++
	if p.seen == p.at {
		p.cutLocked(fmt.Sprintf("%v %s", op.Kind, op.Path))
		return syscall.EIO
	}
	return nil
}

func (p *powerCut) cutLocked(where string) {
	p.clone, p.where = p.mem.CrashClone(), where
}

// cut cuts the power now, unless it was cut already, and returns what
// it left.
func (p *powerCut) cut() *vfs.Mem {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.clone == nil {
		p.cutLocked("the end")
	}
	return p.clone
}

func (p *powerCut) arm() {
	p.mu.Lock()
	p.armed = true
	p.mu.Unlock()
}

func (p *powerCut) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clone != nil
}

// durableDir makes dir on m, durably, as a cache folder made long ago.
func durableDir(t *testing.T, m *vfs.Mem, dir string) {
	t.Helper()
	if err := m.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if err := vfs.SyncDir(m, d); err != nil {
			t.Fatal(err)
		}
		if d == "/" {
			return
		}
	}
}

// plStep is one step of the power-loss workload: it changes the file
// name (none when empty) to after, or removes it when gone. A write or
// truncate changes only the bytes in [lo, hi) and the size.
type plStep struct {
	name   string
	after  string
	gone   bool
	lo, hi int
	run    func(ctx context.Context, c *Cache, inos map[string]Ino) error
}

// interrupted reports whether got is what st, interrupted by the power
// cut, may leave of a file that was before: the old or the new state,
// or for a write or truncate, the old bytes outside the range it
// changes (the range itself and the size were never acknowledged).
func (st plStep) interrupted(before, got plState) bool {
	if got == before || got == (plState{st.after, st.gone}) {
		return true
	}
	if got.gone || before.gone || st.hi == 0 {
		return false
	}
	if len(got.content) != len(before.content) && len(got.content) != len(st.after) {
		return false
	}
	for i := range min(len(got.content), len(before.content)) {
		if (i < st.lo || i >= st.hi) && got.content[i] != before.content[i] {
			return false
		}
	}
	return true
}

// plState is what the cache must show of one file after the crash.
type plState struct {
	content string
	gone    bool
}

func plWorkload() []plStep {
	pattern := func(n int, seed byte) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = seed + byte(i%251)
		}
		return string(b)
	}
	a := pattern(100<<10, 1) // over content.InlineMaxBytes: its data file is fsynced
	b := pattern(60<<10, 7)
	c3 := pattern(80<<10, 13)
	small := "a small file: its COMMIT stores it in the namespace"
	create := func(name string) plStep {
		return plStep{name: name, run: func(ctx context.Context, c *Cache, inos map[string]Ino) error {
			a, _, err := c.Create(ctx, RootIno, name, NewAttr{Mode: 0o644})
			inos[name] = a.Ino
			return err
		}}
	}
	write := func(name string, off int64, data, after string, unstable bool) plStep {
		return plStep{name: name, after: after, lo: int(off), hi: int(off) + len(data), run: func(ctx context.Context, c *Cache, inos map[string]Ino) error {
			var err error
			if unstable {
				_, _, err = c.WriteUnstable(ctx, inos[name], []byte(data), off)
			} else {
				_, _, err = c.WriteAt(ctx, inos[name], []byte(data), off)
			}
			if err != nil {
				return err
			}
			_, err = c.Commit(ctx, inos[name])
			return err
		}}
	}
	big2 := a[:50<<10] + b
	return []plStep{
		create("big"),
		write("big", 0, a, a, true),
		create("small"),
		write("small", 0, small, small, true),
		write("big", 50<<10, b, big2, false),
		{name: "big", after: big2[:70<<10], lo: 70 << 10, hi: 1 << 30, run: func(ctx context.Context, c *Cache, inos map[string]Ino) error {
			size := int64(70 << 10)
			_, err := c.SetAttr(ctx, inos["big"], SetAttr{Size: &size})
			return err
		}},
		write("small", 2, "SMALL", small[:2]+"SMALL"+small[7:], true),
		// Settling moves small files' content from the namespace to
		// their data files, synced, before it drops the records.
		{run: func(ctx context.Context, c *Cache, inos map[string]Ino) error { return c.inline.Settle() }},
		create("third"),
		write("third", 0, c3, c3, false),
		{name: "small", gone: true, run: func(ctx context.Context, c *Cache, inos map[string]Ino) error {
			_, err := c.Remove(ctx, RootIno, "small")
			return err
		}},
		write("third", 1000, "changed", c3[:1000]+"changed"+c3[1007:], true),
	}
}

// TestPowerLossKeepsCommittedWrites cuts the power of the data files'
// file system before each change the workload makes to it (a create,
// the link of a spare into place, a write, an fsync of a file or a
// folder, a truncate, a remove), restarts the cache on what the cut
// left, and checks that every write acknowledged before the cut is
// there: a step that returned success, its COMMIT included.
//
// The namespace database and its log stay on the test's disk, which a
// crash(c) leaves as a killed process would: the power cut is modelled
// for the data files only, with the namespace as committed. A step
// interrupted by the cut may leave its old or its new content, or for a
// write or truncate, anything in the range it changes.
func TestPowerLossKeepsCommittedWrites(t *testing.T) {
	holdRecords(t)
	steps := plWorkload()
	changes := runPowerLoss(t, steps, 0)
	if changes < len(steps) {
		t.Fatalf("the workload made only %d changes to the data files", changes)
	}
	for at := 1; at <= changes+1; at++ {
		t.Run(fmt.Sprint(at), func(t *testing.T) { runPowerLoss(t, steps, at) })
	}
}

// runPowerLoss runs steps on a cache whose data files' power is cut
// before the at-th change (never when 0: then at the end), restarts the
// cache on what is left and checks it. It returns the changes counted.
func runPowerLoss(t *testing.T, steps []plStep, at int) int {
	ctx := context.Background()
	dir := t.TempDir()
	m := vfs.NewMem()
	durableDir(t, m, dir)
	cut := &powerCut{mem: m, at: at}
	s := memstore.New()
	tune := func(fsys vfs.FS) func(*Config) {
		return func(cfg *Config) {
			cfg.FS = fsys
			cfg.UploadDelay = time.Hour // the backend holds nothing to fall back on
		}
	}
	c := newSizedCache(t, dir, s, tune(vfs.Inject(m, cut)))
	cut.arm()
	inos := map[string]Ino{}
	// want holds the acknowledged state of each file; cutShort, the
	// step the cut interrupted, if any.
	want := map[string]plState{}
	var cutShort *plStep
	for i, st := range steps {
		if _, ok := want[st.name]; !ok && st.name != "" {
			want[st.name] = plState{gone: true}
		}
		err := st.run(ctx, c, inos)
		if err == nil && st.name != "" {
			want[st.name] = plState{st.after, st.gone}
		}
		if err != nil {
			cutShort = &steps[i]
		}
		if err != nil && !cut.done() {
			t.Fatalf("step %d failed before the power cut: %v", i, err)
		}
		if err != nil || cut.done() {
			break
		}
	}
	crash(c)
	left := cut.cut()
	t.Logf("power cut before %s", cut.where)

	c2 := newSizedCache(t, dir, s, tune(left))
	for name, w := range want {
		got, err := plRead(t, c2, name)
		switch {
		case err != nil:
			t.Errorf("%s after the power cut: %v", name, err)
		case got == w:
		case cutShort != nil && cutShort.name == name && cutShort.interrupted(w, got):
		default:
			t.Errorf("%s after the power cut (before %s): %s, want %s", name, cut.where, got, w)
		}
	}
	if t.Failed() {
		return cut.seen
	}
	// And the cache works on what the cut left.
	f := mustCreate(t, c2, RootIno, "after")
	mustWrite(t, c2, f.Ino, 0, "after the cut")
	if got := readAll(t, c2, f.Ino); got != "after the cut" {
		t.Fatalf("a file written after the restart reads %q", got)
	}
	return cut.seen
}

// plRead returns what c shows of name.
func plRead(t *testing.T, c *Cache, name string) (plState, error) {
	t.Helper()
	a, err := c.Lookup(context.Background(), RootIno, name)
	if errors.Is(err, fs.ErrNotExist) {
		return plState{gone: true}, nil
	}
	if err != nil {
		return plState{}, err
	}
	return plState{content: readAll(t, c, a.Ino)}, nil
}

func (s plState) String() string {
	if s.gone {
		return "gone"
	}
	if len(s.content) > 40 {
		return fmt.Sprintf("%d bytes %q...", len(s.content), s.content[:40])
	}
	return fmt.Sprintf("%q", s.content)
}
