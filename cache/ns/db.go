package ns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DB is the namespace: the bbolt database, one write transaction kept
// open on it (live), and the namespace log (log.go).
//
// An update runs against live, which every view reads too, so a view
// sees every update applied so far; the changes it made are written to
// the log as one record, with one fdatasync, before its caller hears of
// success. A checkpoint commits live (two fdatasyncs, however many
// updates it holds) together with the log position it includes, then
// starts the log over. At start, records past that position are applied
// again: the database plus the log is always the state of the last
// record made durable.
//
// Views take turns with each other and with rounds applying their
// updates (microseconds each), not with a round's fdatasync: a view may
// see an update before it is durable, as a process sees another's new
// file before its fsync; a crash then loses what no caller was told of
// yet. The uploader, which acts on what it sees, first waits for the
// round in progress (Barrier).
//
// When the log cannot be written, the namespace falls back to committing
// live after every round (direct mode) until the next Open.
type DB struct {
	db    *bolt.DB
	dir   string
	log   *logFile
	lg    *slog.Logger
	every time.Duration

	// commitMu guards the group commit's queue (commit.go).
	commitMu    sync.Mutex
	commitQueue []*commitReq
	committing  bool

	// roundMu is held by a round from its first update until its record
	// is durable, and by checkpoints: it guards log. mu is held by views,
	// by a round while it changes live (not while it syncs the log) and
	// by checkpoints: it guards live.
	roundMu sync.Mutex
	mu      sync.Mutex
	live    *bolt.Tx
	// direct is set when the log is unusable: every round commits.
	direct bool
	// broken is set when live could not be rebuilt: updates and views
	// fail with it until a restart.
	broken error
	// lastCheckpoint is when live was last committed.
	lastCheckpoint time.Time

	commits, checkpoints, appends atomic.Int64
	// undone counts rounds undone after being applied (their record
	// could not be made durable), for Barrier's callers.
	undone atomic.Int64
	// trouble says what is wrong, for status: direct mode or broken.
	trouble atomic.Pointer[string]
	// reserved is how far the database file's blocks are allocated
	// (Reserve).
	reserved atomic.Int64
}

// Options configures a DB.
type Options struct {
	// Root is the root directory's record in a new database.
	Root *Inode
	// CheckpointEvery is how long updates stay in the log at most.
	CheckpointEvery time.Duration
	Logger          *slog.Logger
}

// Open opens (or creates) the namespace in dir: the database
// namespace.db and its log namespace.log. It applies what the log holds
// past the database, so the namespace is the state of the last update
// made durable.
func Open(dir string, opt Options) (*DB, error) {
	path := filepath.Join(dir, "namespace.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("cache: %s is in use by another filegate process", dir)
		}
		return nil, fmt.Errorf("cache: namespace database %s cannot be opened (%w); if it is damaged, move it away "+
			"and filegate rebuilds the namespace from the backend (changes not yet uploaded would be lost)",
			path, err)
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = 2 * time.Second
	}
	d := &DB{db: db, dir: dir, lg: opt.Logger, every: opt.CheckpointEvery}
	if err := d.init(opt.Root); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.openLog(); err != nil {
		db.Close()
		return nil, err
	}
	return d, nil
}

// init creates the buckets and the root on first use and checks the
// format.
func (d *DB) init(root *Inode) error {
	return d.db.Update(func(tx *bolt.Tx) error {
		for _, b := range nsBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("cache: create bucket %s: %w", b, err)
			}
		}
		t := newTx(tx, &recorder{})
		switch f := t.Counter(KeyFormat); f {
		case 0:
			if root == nil {
				return errors.New("cache: a new namespace needs a root")
			}
			if err := t.Meta.Put(KeyFormat, InoKey(Format)); err != nil {
				return err
			}
			if err := t.Meta.Put(keyNextIno, InoKey(RootIno)); err != nil {
				return err
			}
			if err := t.Put(root); err != nil {
				return err
			}
		case Format, FormatInline, FormatLog:
		default:
			return fmt.Errorf("cache: database format %d in %s is newer than this filegate understands (%d)", f, d.dir, FormatLog)
		}
		if _, err := t.Get(RootIno); err != nil {
			return fmt.Errorf("cache: root inode: %w", err)
		}
		return nil
	})
}

// goDirect gives up the log until the next start.
func (d *DB) goDirect(why string, err error) {
	d.lg.Error(why+"; every update now commits the database itself, which is slower, until a restart", "err", err)
	msg := fmt.Sprintf("namespace log not in use (%s: %v): updates are slower until a restart", why, err)
	d.trouble.Store(&msg)
	d.direct = true
}

func (d *DB) setBroken(err error) {
	d.lg.Error("namespace", "err", err)
	msg := err.Error()
	d.trouble.Store(&msg)
	d.broken = err
}

// Problem is what needs an admin's attention, "" when nothing: the log
// given up (updates are slower) or the namespace broken until a restart.
func (d *DB) Problem() string {
	if p := d.trouble.Load(); p != nil {
		return *p
	}
	return ""
}

var (
	// keyLogID is the id of the log whose records this database takes.
	keyLogID = []byte("log-id")
	// keyLogApplied is the log position (epoch, sequence) the database
	// includes: records up to it are never applied again.
	keyLogApplied = []byte("log-applied")
)

// openLog opens the log beside the database, applies what it holds past
// the database's position, and opens live.
func (d *DB) openLog() error {
	path := filepath.Join(d.dir, "namespace.log")
	l, err := openLog(path, rand.Uint64)
	switch {
	case errors.Is(err, errLogCreate):
		// Most likely a full disk: serve all the same, more slowly; the
		// next start tries again.
		d.goDirect("no namespace log", err)
	case err != nil:
		return err
	default:
		d.log = l
		if err := d.replay(path); err != nil {
			l.close()
			return err
		}
	}
	if d.live, err = d.db.Begin(true); err != nil {
		if d.log != nil {
			d.log.close()
		}
		return fmt.Errorf("cache: namespace: %w", err)
	}
	d.lastCheckpoint = time.Now()
	return nil
}

// replay applies what the log holds past the database's position, makes
// the database take this log from now on, and starts the log over.
func (d *DB) replay(path string) error {
	l := d.log
	applied := 0
	err := d.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var same bool
		var err error
		if applied, same, err = replayLog(tx, l); err != nil {
			return err
		}
		if !same && l.seq > 0 {
			d.lg.Warn("the namespace log belongs to another database; its records were not applied", "log", path)
		}
		if err := meta.Put(keyLogID, binary.BigEndian.AppendUint64(nil, l.id)); err != nil {
			return err
		}
		if err := meta.Put(keyLogApplied, logPos(l.epoch, l.seq)); err != nil {
			return err
		}
		return meta.Put(KeyFormat, InoKey(FormatLog))
	})
	if err != nil {
		return fmt.Errorf("cache: apply the namespace log: %w", err)
	}
	if applied > 0 {
		d.lg.Info("namespace updates recovered from the log", "records", applied)
	}
	if err := l.reset(); err != nil {
		d.goDirect("the namespace log cannot be started over", err)
	}
	return nil
}

// replayLog applies to tx the records of l past the position tx's
// database includes, when l is that database's log (same).
func replayLog(tx *bolt.Tx, l *logFile) (applied int, same bool, err error) {
	meta := tx.Bucket(bucketMeta)
	id := meta.Get(keyLogID)
	var from [2]uint64
	if v := meta.Get(keyLogApplied); len(v) == 16 {
		from = [2]uint64{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:])}
	}
	same = len(id) == 8 && binary.BigEndian.Uint64(id) == l.id
	err = l.records(func(payload []byte) error {
		pos := [2]uint64{l.epoch, l.seq + 1}
		if !same || pos[0] < from[0] || pos[0] == from[0] && pos[1] <= from[1] {
			return nil
		}
		applied++
		return applyRecord(tx, payload)
	})
	return applied, same, err
}

func logPos(epoch, seq uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, epoch), seq)
}

// tx returns a view of live; with rec set, its changes are recorded.
func (d *DB) tx(rec *recorder) *Tx { return newTx(d.live, rec) }

// View runs fn on a read-only view of the namespace. It sees every
// update applied so far, including one whose log record is being made
// durable: call Barrier before acting on what it saw in a way a crash
// must not undo.
func (d *DB) View(fn func(t *Tx) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live == nil {
		return d.broken
	}
	return fn(d.tx(nil))
}

// round runs the updates of one group commit round (see commit.go) and
// makes them durable together. An update that fails is undone and gets
// its error: it saw the state the updates before it in the round left,
// which is a state the namespace goes through. It reports whether it
// wrote anything.
func (d *DB) round(reqs []*commitReq) (wrote bool) {
	d.roundMu.Lock()
	defer d.roundMu.Unlock()
	d.mu.Lock()
	if d.live == nil {
		for _, r := range reqs {
			r.err = d.broken
		}
		d.mu.Unlock()
		return false
	}
	rec := &recorder{tx: d.live}
	for _, r := range reqs {
		t := d.tx(rec)
		m := rec.mark()
		if err := runFn(r, t); err != nil {
			r.err = err
			if uerr := rec.rollbackTo(m); uerr != nil {
				d.failLocked(reqs, rec, uerr)
				d.mu.Unlock()
				return false
			}
			continue
		}
	}
	if len(rec.undo) == 0 {
		d.mu.Unlock()
		return false
	}
	var err error
	if d.direct {
		err = d.checkpointLocked()
	} else if err = d.log.write(rec.payload); errors.Is(err, errLogFull) {
		// No room left: the checkpoint makes this round durable with
		// all before it.
		err = d.checkpointLocked()
	} else if err == nil {
		// Views go on while the record is synced: they may see the
		// round before it is durable, as processes see a file before
		// its fsync. Nothing irreversible follows from a view alone:
		// the uploader passes Barrier first.
		d.mu.Unlock()
		err = d.log.sync()
		d.mu.Lock()
		if err == nil {
			d.appends.Add(1)
		}
	}
	if err != nil {
		d.failLocked(reqs, rec, err)
		d.mu.Unlock()
		return false
	}
	if !d.direct && d.log.used() >= logCheckpointAt {
		if err := d.checkpointLocked(); err != nil {
			d.lg.Error("namespace checkpoint", "err", err)
		}
	}
	d.mu.Unlock()
	return true
}

// Barrier returns once no round is being made durable: what a view saw
// before is durable then, or was undone when its round failed (then
// Stats().Undone has grown).
func (d *DB) Barrier() {
	d.roundMu.Lock()
	d.roundMu.Unlock() //nolint:staticcheck // an empty critical section is the point
}

// failLocked undoes the whole round after its record could not be made
// durable. A record that reached the disk all the same must never be
// applied at start, so the log starts over (in a checkpoint) or is given
// up for direct mode.
func (d *DB) failLocked(reqs []*commitReq, rec *recorder, cause error) {
	d.undone.Add(1)
	for _, r := range reqs {
		if r.err == nil {
			r.err = cause
		}
	}
	if rec.tx != d.live {
		return // lost with live, which was rebuilt without them
	}
	if err := rec.rollbackTo(recordMark{}); err != nil {
		d.rebuildLocked(err)
		return
	}
	if d.direct {
		return
	}
	d.goDirect("a namespace log record could not be written", cause)
	if err := d.checkpointLocked(); err != nil {
		d.lg.Error("namespace checkpoint", "err", err)
	}
}

// checkpointLocked commits live with the log position it includes, opens
// the next live, and starts the log over.
func (d *DB) checkpointLocked() error {
	// In direct mode nothing in the log may be applied on top of what
	// direct commits change.
	pos := logPos(math.MaxUint64, math.MaxUint64)
	if !d.direct {
		pos = logPos(d.log.epoch, d.log.seq)
	}
	err := d.live.Bucket(bucketMeta).Put(keyLogApplied, pos)
	if err == nil {
		err = d.live.Commit()
	} else {
		d.live.Rollback()
	}
	d.live = nil
	if err != nil {
		// live is rolled back: what it held since the last checkpoint is
		// in the log (in direct mode, only the failed round, whose
		// callers get the error).
		d.rebuildLocked(err)
		return fmt.Errorf("cache: namespace commit: %w", err)
	}
	d.lastCheckpoint = time.Now()
	d.checkpoints.Add(1)
	if d.live, err = d.db.Begin(true); err != nil {
		d.setBroken(fmt.Errorf("cache: namespace: %w (restart filegate)", err))
		return d.broken
	}
	if d.direct {
		return nil
	}
	if err := d.log.reset(); err != nil {
		d.goDirect("the namespace log cannot be started over", err)
		return d.checkpointLocked() // records no log position
	}
	return nil
}

// rebuildLocked opens live again from the database and the log after
// live was lost, or marks the namespace broken.
func (d *DB) rebuildLocked(cause error) {
	if d.live != nil {
		d.live.Rollback()
		d.live = nil
	}
	tx, err := d.db.Begin(true)
	if err == nil && !d.direct {
		epoch, seq, off := d.log.epoch, d.log.seq, d.log.off
		_, _, err = replayLog(tx, d.log)
		if err == nil && (d.log.seq != seq || d.log.off != off || d.log.epoch != epoch) {
			err = errors.New("the log reads back differently")
		}
	}
	if err != nil {
		if tx != nil {
			tx.Rollback()
		}
		d.setBroken(fmt.Errorf("cache: namespace lost its open transaction (%v) and cannot rebuild it: %w (restart filegate)", cause, err))
		return
	}
	d.live = tx
}

// Checkpoint commits the updates in the log to the database, when they
// are older than Options.CheckpointEvery or force is set, and starts the
// log over: the log stays short to replay and live's memory small.
func (d *DB) Checkpoint(force bool) error {
	d.roundMu.Lock()
	defer d.roundMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live == nil || d.direct || d.log.used() == 0 || !force && time.Since(d.lastCheckpoint) < d.every {
		return nil
	}
	return d.checkpointLocked()
}

// Close checkpoints, storing the format a release without the log reads
// (closingFormat), and closes the log and the database.
func (d *DB) Close() error {
	nerr := d.close()
	if err := d.db.Close(); err != nil {
		return err
	}
	return nerr
}

func (d *DB) close() error {
	d.roundMu.Lock()
	defer d.roundMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	var first error
	if d.live != nil {
		t := d.tx(nil)
		err := t.Meta.b.Put(KeyFormat, InoKey(Ino(t.closingFormat())))
		if err == nil {
			d.direct = true // the log's position is all in the database
			err = d.checkpointLocked()
		}
		first = err
		if d.live != nil {
			d.live.Rollback()
			d.live = nil
		}
	}
	if d.log != nil {
		if err := d.log.close(); err != nil && first == nil {
			first = err
		}
	}
	if d.broken == nil {
		d.broken = errors.New("cache: closed")
	}
	return first
}

// Stats counts the namespace's work since Open.
type Stats struct {
	// Commits counts the rounds of updates that changed something,
	// Appends the log records made durable, Checkpoints the commits of
	// the database, and Undone the rounds undone after their updates
	// were applied.
	Commits, Appends, Checkpoints, Undone int64
}

// Stats returns the counts since Open.
func (d *DB) Stats() Stats {
	return Stats{Commits: d.commits.Load(), Appends: d.appends.Load(),
		Checkpoints: d.checkpoints.Load(), Undone: d.undone.Load()}
}
