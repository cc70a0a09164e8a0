package content

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/filegate/filegate/cache/vfs"
)

// SpareDirName is the folder, beside the 256 folders of data files, of
// the spare data files: empty files made ahead of need, so that the
// first write to a new inode links one into place, which costs far less
// than creating its data file. The refiller unlinks the spare's own
// name afterwards. A link, unlike a rename, does not lock the spare
// folder, in which the refiller (at low priority, so it may be
// preempted holding that lock) is creating the next spares: a rename
// would wait for it.
//
// Crash safety. A spare is made without any fsync and holds no data
// until it is linked to a data file's name; from then on it is that
// data file, and the rules of new data files hold unchanged: its name
// is durable only once its data folder is synced (Files.fresh), as
// for a file created there, because a link adds an entry to the data
// folder just as a create does. After a crash, a spare name may survive:
//   - an empty spare never taken, or one whose link was lost: with or
//     without data written through it, which was never made durable, so
//     never acknowledged by a COMMIT (the data file is missing or
//     short, and the start handles that as ever);
//   - a second name of a data file, not yet unlinked by the refiller:
//     unlinking it leaves the data under the data file's name.
//
// So the refiller, before it makes any spare, unlinks everything in the
// spare folder, and never writes to what it finds there. Start-up
// reconciliation (RemoveOrphans) skips the folder: spares are no
// inode's data and no cached bytes. An older release, which knows no
// spare folder, deletes what it finds there as data files no inode
// owns: also right.
const SpareDirName = "spare"

const (
	// SpareTarget is how many spares the refiller keeps ready; it
	// refills when fewer than half are left. Spares are counted apart
	// from the file table's max: their descriptors are few and fixed,
	// and trimming them would only waste the create they cost.
	SpareTarget = 32
	// spareRetryMin and spareRetryMax bound the refiller's backoff
	// when it cannot make spares (a full disk, no inodes or
	// descriptors left): it retries quietly, the writes' own creates
	// report the failure.
	spareRetryMin = 100 * time.Millisecond
	spareRetryMax = 10 * time.Second
)

// sparePool is the spare data files of a Files and the goroutine
// that makes them. It starts with the first data file created, so a
// cache that fails to open or only reads starts no goroutine, and
// Files.Close stops it.
type sparePool struct {
	fs     vfs.FS
	dir    string
	target int

	mu sync.Mutex
	// ready holds the spares made and not yet taken; taken, the names
	// of spares placed, for the refiller to unlink.
	ready []spare
	taken []string
	// next numbers spare names; a name in use is skipped.
	next uint64
	// started: the refiller runs (or ran); closed: close was called;
	// disabled: the file system cannot link spares into place.
	started, closed, disabled bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// spare is one spare file: its path in the spare folder and the file,
// open (see vfs.Spare).
type spare struct {
	path string
	f    vfs.Spare
}

func newSparePool(fsys vfs.FS, dir string, target int) *sparePool {
	if !SparesSupported {
		target = 0
	}
	return &sparePool{fs: fsys, dir: dir, target: target, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

// place links a spare to path, which must not exist (a link never
// replaces), and returns it open, or nil when no spare is ready or the
// link failed: the caller then creates the file itself. It never waits
// for the refiller, which unlinks the spare's own name later.
func (p *sparePool) place(path string) vfs.File {
	s, ok := p.take()
	if !ok {
		return nil
	}
	f, err := s.f.Place(path)
	p.mu.Lock()
	p.taken = append(p.taken, s.path)
	p.mu.Unlock()
	p.wake()
	if err == nil {
		return f
	}
	// The spare may be gone (it vanished) or the data folder missing,
	// or path exists after all: drop the spare, the refiller makes more.
	s.f.Close()
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOSYS) || errors.Is(err, syscall.EOPNOTSUPP) ||
		errors.Is(err, syscall.EXDEV) || errors.Is(err, errors.ErrUnsupported) {
		// This file system has no hard links (or the folders are on
		// different ones): spares are of no use.
		p.disable()
	}
	return nil
}

// take returns a ready spare, if any, and has the refiller make more
// when few are left; the first call starts the refiller.
func (p *sparePool) take() (spare, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.disabled || p.target <= 0 {
		return spare{}, false
	}
	if !p.started {
		p.started = true
		go p.run()
		p.wake()
	}
	n := len(p.ready)
	if n == 0 {
		p.wake()
		return spare{}, false
	}
	s := p.ready[0] // the oldest: the refiller may be making the newest
	p.ready = p.ready[1:]
	if len(p.ready) < p.target/2 {
		p.wake()
	}
	return s, true
}

func (p *sparePool) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// run is the refiller: it clears the spare folder, then keeps target
// spares ready until close, at low priority (see lowerPriority).
func (p *sparePool) run() {
	defer close(p.done)
	defer lowerPriority()()
	p.clear()
	retry := spareRetryMin
	for {
		select {
		case <-p.stop:
			return
		case <-p.kick:
		}
		p.unlinkTaken()
		for {
			path, ok := p.nextPath()
			if !ok {
				break
			}
			f, err := vfs.CreateSpare(p.fs, path, 0o600)
			if errors.Is(err, os.ErrExist) {
				continue
			}
			if err != nil {
				if errors.Is(err, os.ErrNotExist) {
					// The folder went missing; MakeDirs made it.
					p.fs.Mkdir(p.dir, 0o700)
				}
				select {
				case <-p.stop:
					return
				case <-time.After(retry):
				}
				retry = min(2*retry, spareRetryMax)
				continue
			}
			retry = spareRetryMin
			if !p.put(spare{path, f}) {
				f.Close()
				p.fs.Remove(path)
				return
			}
		}
	}
}

// unlinkTaken removes the spare names of the spares placed.
func (p *sparePool) unlinkTaken() {
	p.mu.Lock()
	taken := p.taken
	p.taken = nil
	p.mu.Unlock()
	for _, name := range taken {
		p.fs.Remove(name)
	}
}

// clear removes what a previous run left in the spare folder (see
// SpareDirName): unlinking only, never writing, since a name found
// there may be a second name of a data file.
func (p *sparePool) clear() {
	ents, err := p.fs.ReadDir(p.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		p.fs.RemoveAll(filepath.Join(p.dir, e.Name()))
	}
}

// nextPath names the next spare to make, or reports that none is
// needed.
func (p *sparePool) nextPath() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.disabled || len(p.ready) >= p.target {
		return "", false
	}
	p.next++
	return filepath.Join(p.dir, "s"+strconv.FormatUint(p.next, 10)), true
}

// put adds a spare made, unless the pool was closed or disabled meanwhile.
func (p *sparePool) put(s spare) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.disabled {
		return false
	}
	p.ready = append(p.ready, s)
	return true
}

// disable drops the ready spares for good; the refiller idles until close.
func (p *sparePool) disable() {
	p.mu.Lock()
	p.disabled = true
	p.dropLocked()
	p.mu.Unlock()
}

// close stops the refiller and closes the ready spares' descriptors; their
// names stay for the next start to remove (one unlink each, off the
// shutdown path).
func (p *sparePool) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	started := p.started
	p.mu.Unlock()
	if started {
		close(p.stop)
		<-p.done
	}
	p.unlinkTaken()
	p.mu.Lock()
	for _, s := range p.ready {
		s.f.Close()
	}
	p.ready = nil
	p.mu.Unlock()
}

func (p *sparePool) dropLocked() {
	for _, s := range p.ready {
		s.f.Close()
		p.fs.Remove(s.path)
	}
	p.ready = nil
}

// SetSpareTarget sets how many spares ft keeps ready (0: none), for
// tests and benchmarks that compare; it must be called before the first
// data file is made, when the pool has not started.
func (ft *Files) SetSpareTarget(n int) {
	ft.spares = newSparePool(ft.fs, filepath.Join(ft.dir, SpareDirName), n)
}

// SparesReady is how many spares are ready to be taken.
func (ft *Files) SparesReady() int {
	ft.spares.mu.Lock()
	defer ft.spares.mu.Unlock()
	return len(ft.spares.ready)
}
