package cache

import (
	"bytes"
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

	"github.com/filegate/filegate/cache/ns"
	bolt "go.etcd.io/bbolt"
)

// nsDB is the namespace: the bbolt database, one write transaction kept
// open on it (live), and the namespace log (nslog.go).
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
// round in progress (barrier).
//
// When the log cannot be written, filegate falls back to committing live
// after every round (direct mode), as it did before the log existed.
type nsDB struct {
	db  *bolt.DB
	log *nsLog
	lg  *slog.Logger

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

	checkpoints, appends atomic.Int64
	// undone counts rounds undone after being applied (their record
	// could not be made durable), for barrier's callers.
	undone atomic.Int64
	// trouble says what is wrong, for status: direct mode or broken.
	trouble atomic.Pointer[string]
}

// goDirect gives up the log until the next start.
func (s *nsDB) goDirect(why string, err error) {
	s.lg.Error(why+"; every update now commits the database itself, which is slower, until a restart", "err", err)
	msg := fmt.Sprintf("namespace log not in use (%s: %v): updates are slower until a restart", why, err)
	s.trouble.Store(&msg)
	s.direct = true
}

func (s *nsDB) setBroken(err error) {
	s.lg.Error("namespace", "err", err)
	msg := err.Error()
	s.trouble.Store(&msg)
	s.broken = err
}

// problem is what needs an admin's attention, "" when nothing.
func (s *nsDB) problem() string {
	if p := s.trouble.Load(); p != nil {
		return *p
	}
	return ""
}

// nsBuckets lists the namespace's buckets; a log record names a bucket
// by its index here, so the order never changes.
var nsBuckets = [][]byte{bucketMeta, bucketInodes, bucketDirents, bucketCookies, bucketLinks,
	bucketDirty, bucketJournal, bucketChunks, bucketInline}

var (
	// keyLogID is the id of the log whose records this database takes.
	keyLogID = []byte("log-id")
	// keyLogApplied is the log position (epoch, sequence) the database
	// includes: records up to it are never applied again.
	keyLogApplied = []byte("log-applied")
)

// dbFormatLog is the database format while it is open or was not closed
// cleanly: the log may hold updates a filegate that does not know the
// log would miss. Close sets it back to dbFormat or dbFormatInline.
const dbFormatLog = 3

// checkpointEvery is how long updates stay in the log at most. Tests
// that crash with updates in the log make it longer before New.
var checkpointEvery = 2 * time.Second

var errViewWrite = errors.New("cache: namespace write in a read-only view")

const (
	mutPut    = 1
	mutDelete = 2
)

// bucket is a namespace bucket whose changes are recorded for the log
// and for undo.
type bucket struct {
	b   *bolt.Bucket
	id  byte
	rec *recorder // nil in a view
}

func (b *bucket) Get(k []byte) []byte                      { return b.b.Get(k) }
func (b *bucket) Cursor() *bolt.Cursor                     { return b.b.Cursor() }
func (b *bucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

// Put stores v under k. A nil v is stored empty: in an open transaction
// bbolt's Get cannot tell a nil value from a missing key.
func (b *bucket) Put(k, v []byte) error {
	if b.rec == nil {
		return errViewWrite
	}
	if v == nil {
		v = []byte{}
	}
	old, had := b.current(k)
	if err := b.b.Put(k, v); err != nil {
		return err
	}
	b.rec.add(mutPut, b, k, v, old, had)
	return nil
}

// Delete removes k; a missing k is no error.
func (b *bucket) Delete(k []byte) error {
	if b.rec == nil {
		return errViewWrite
	}
	old, had := b.current(k)
	if !had {
		return nil
	}
	if err := b.b.Delete(k); err != nil {
		return err
	}
	b.rec.add(mutDelete, b, k, nil, old, had)
	return nil
}

func (b *bucket) current(k []byte) ([]byte, bool) {
	ck, v := b.b.Cursor().Seek(k)
	if ck == nil || !bytes.Equal(ck, k) {
		return nil, false
	}
	return append([]byte{}, v...), true
}

// recorder collects a round's changes: encoded for the log, and the
// values they replaced, to undo an update that fails or a round whose
// record could not be written.
type recorder struct {
	// tx is the transaction the changes were made in: once it is gone,
	// so are they, and there is nothing to undo.
	tx      *bolt.Tx
	payload []byte
	undo    []undoEntry
}

type undoEntry struct {
	b   *bucket
	key []byte
	old []byte
	had bool
}

func (r *recorder) add(kind byte, b *bucket, k, v, old []byte, had bool) {
	r.payload = append(r.payload, kind, b.id)
	r.payload = binary.AppendUvarint(r.payload, uint64(len(k)))
	r.payload = append(r.payload, k...)
	if kind == mutPut {
		r.payload = binary.AppendUvarint(r.payload, uint64(len(v)))
		r.payload = append(r.payload, v...)
	}
	r.undo = append(r.undo, undoEntry{b, append([]byte{}, k...), old, had})
}

type recordMark struct{ payload, undo int }

func (r *recorder) mark() recordMark { return recordMark{len(r.payload), len(r.undo)} }

// rollbackTo undoes the changes recorded since m.
func (r *recorder) rollbackTo(m recordMark) error {
	for i := len(r.undo) - 1; i >= m.undo; i-- {
		u := r.undo[i]
		var err error
		if u.had {
			err = u.b.b.Put(u.key, u.old)
		} else {
			err = u.b.b.Delete(u.key)
		}
		if err != nil {
			return fmt.Errorf("cache: undo a namespace change: %w", err)
		}
	}
	r.payload, r.undo = r.payload[:m.payload], r.undo[:m.undo]
	return nil
}

// applyRecord applies a log record's changes to tx.
func applyRecord(tx *bolt.Tx, payload []byte) error {
	for p := payload; len(p) > 0; {
		if len(p) < 2 || int(p[1]) >= len(nsBuckets) {
			return errors.New("cache: namespace log: bad record")
		}
		kind, b := p[0], tx.Bucket(nsBuckets[p[1]])
		p = p[2:]
		k, rest, ok := uvarintBytes(p)
		if !ok {
			return errors.New("cache: namespace log: bad key")
		}
		p = rest
		switch kind {
		case mutPut:
			v, rest, ok := uvarintBytes(p)
			if !ok {
				return errors.New("cache: namespace log: bad value")
			}
			p = rest
			if err := b.Put(k, v); err != nil {
				return err
			}
		case mutDelete:
			if err := b.Delete(k); err != nil {
				return err
			}
		default:
			return fmt.Errorf("cache: namespace log: bad change kind %d", kind)
		}
	}
	return nil
}

func uvarintBytes(p []byte) (b, rest []byte, ok bool) {
	n, w := binary.Uvarint(p)
	if w <= 0 || uint64(len(p)-w) < n {
		return nil, nil, false
	}
	return p[w : w+int(n)], p[w+int(n):], true
}

// openNS opens the log in dir beside db, applies what it holds past the
// database's position, and opens live.
func openNS(db *bolt.DB, dir string, lg *slog.Logger) (*nsDB, error) {
	path := filepath.Join(dir, "namespace.log")
	s := &nsDB{db: db, lg: lg}
	l, err := openLog(path, rand.Uint64)
	switch {
	case errors.Is(err, errLogCreate):
		// Most likely a full disk: serve all the same, more slowly; the
		// next start tries again.
		s.goDirect("no namespace log", err)
	case err != nil:
		return nil, err
	default:
		s.log = l
		if err := s.replay(path); err != nil {
			l.close()
			return nil, err
		}
	}
	if s.live, err = db.Begin(true); err != nil {
		if s.log != nil {
			s.log.close()
		}
		return nil, fmt.Errorf("cache: namespace: %w", err)
	}
	s.lastCheckpoint = time.Now()
	return s, nil
}

// replay applies what the log holds past the database's position, makes
// the database take this log from now on, and starts the log over.
func (s *nsDB) replay(path string) error {
	l := s.log
	applied := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var same bool
		var err error
		if applied, same, err = replayLog(tx, l); err != nil {
			return err
		}
		if !same && l.seq > 0 {
			s.lg.Warn("the namespace log belongs to another database; its records were not applied", "log", path)
		}
		if err := meta.Put(keyLogID, binary.BigEndian.AppendUint64(nil, l.id)); err != nil {
			return err
		}
		if err := meta.Put(keyLogApplied, logPos(l.epoch, l.seq)); err != nil {
			return err
		}
		return meta.Put(keyFormat, ns.InoKey(dbFormatLog))
	})
	if err != nil {
		return fmt.Errorf("cache: apply the namespace log: %w", err)
	}
	if applied > 0 {
		s.lg.Info("namespace updates recovered from the log", "records", applied)
	}
	if err := l.reset(); err != nil {
		s.goDirect("the namespace log cannot be started over", err)
	}
	return nil
}

// replayLog applies to tx the records of l past the position tx's
// database includes, when l is that database's log (same).
func replayLog(tx *bolt.Tx, l *nsLog) (applied int, same bool, err error) {
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

// txn returns a view of live; with rec set, its changes are recorded.
func (s *nsDB) txn(rec *recorder) *txn { return newTxn(s.live, rec) }

// newTxn returns a view of tx; with rec set, its changes are recorded.
func newTxn(tx *bolt.Tx, rec *recorder) *txn {
	t := &txn{}
	for i, p := range []**bucket{&t.meta, &t.inodes, &t.dirents, &t.cookies, &t.links, &t.dirty, &t.journal, &t.chunkBits, &t.inline} {
		*p = &bucket{b: tx.Bucket(nsBuckets[i]), id: byte(i), rec: rec}
	}
	return t
}

// view runs fn on live.
func (s *nsDB) view(fn func(t *txn) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil {
		return s.broken
	}
	return fn(s.txn(nil))
}

// round runs the updates of one group commit round (see commit.go) and
// makes them durable together. It reports whether it wrote anything.
func (s *nsDB) round(reqs []*commitReq, prep func(t *txn)) (wrote bool) {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	s.mu.Lock()
	if s.live == nil {
		for _, r := range reqs {
			r.err = s.broken
		}
		s.mu.Unlock()
		return false
	}
	rec := &recorder{tx: s.live}
	for _, r := range reqs {
		t := s.txn(rec)
		prep(t)
		m := rec.mark()
		if err := runFn(r, t); err != nil {
			r.err = err
			if uerr := rec.rollbackTo(m); uerr != nil {
				s.failLocked(reqs, rec, uerr)
				s.mu.Unlock()
				return false
			}
			continue
		}
		r.t = t
	}
	if len(rec.undo) == 0 {
		s.mu.Unlock()
		return false
	}
	var err error
	if s.direct {
		err = s.checkpointLocked()
	} else if err = s.log.write(rec.payload); errors.Is(err, errLogFull) {
		// No room left: the checkpoint makes this round durable with
		// all before it.
		err = s.checkpointLocked()
	} else if err == nil {
		// Views go on while the record is synced: they may see the
		// round before it is durable, as processes see a file before
		// its fsync. Nothing irreversible follows from a view alone:
		// the uploader passes barrier first.
		s.mu.Unlock()
		err = s.log.sync()
		s.mu.Lock()
		if err == nil {
			s.appends.Add(1)
		}
	}
	if err != nil {
		s.failLocked(reqs, rec, err)
		s.mu.Unlock()
		return false
	}
	if !s.direct && s.log.used() >= logCheckpointAt {
		if err := s.checkpointLocked(); err != nil {
			s.lg.Error("namespace checkpoint", "err", err)
		}
	}
	s.mu.Unlock()
	return true
}

// barrier returns once no round is being made durable: what a view saw
// before is durable then (or was undone, when its round failed).
func (s *nsDB) barrier() {
	s.roundMu.Lock()
	s.roundMu.Unlock() //nolint:staticcheck // an empty critical section is the point
}

// failLocked undoes the whole round after its record could not be made
// durable. A record that reached the disk all the same must never be
// applied at start, so the log starts over (in a checkpoint) or is given
// up for direct mode.
func (s *nsDB) failLocked(reqs []*commitReq, rec *recorder, cause error) {
	s.undone.Add(1)
	for _, r := range reqs {
		if r.err == nil {
			r.err, r.t = cause, nil
		}
	}
	if rec.tx != s.live {
		return // lost with live, which was rebuilt without them
	}
	if err := rec.rollbackTo(recordMark{}); err != nil {
		s.rebuildLocked(err)
		return
	}
	if s.direct {
		return
	}
	s.goDirect("a namespace log record could not be written", cause)
	if err := s.checkpointLocked(); err != nil {
		s.lg.Error("namespace checkpoint", "err", err)
	}
}

// checkpointLocked commits live with the log position it includes, opens
// the next live, and starts the log over.
func (s *nsDB) checkpointLocked() error {
	// In direct mode nothing in the log may be applied on top of what
	// direct commits change.
	pos := logPos(math.MaxUint64, math.MaxUint64)
	if !s.direct {
		pos = logPos(s.log.epoch, s.log.seq)
	}
	err := s.live.Bucket(bucketMeta).Put(keyLogApplied, pos)
	if err == nil {
		err = s.live.Commit()
	} else {
		s.live.Rollback()
	}
	s.live = nil
	if err != nil {
		// live is rolled back: what it held since the last checkpoint is
		// in the log (in direct mode, only the failed round, whose
		// callers get the error).
		s.rebuildLocked(err)
		return fmt.Errorf("cache: namespace commit: %w", err)
	}
	s.lastCheckpoint = time.Now()
	s.checkpoints.Add(1)
	if s.live, err = s.db.Begin(true); err != nil {
		s.setBroken(fmt.Errorf("cache: namespace: %w (restart filegate)", err))
		return s.broken
	}
	if s.direct {
		return nil
	}
	if err := s.log.reset(); err != nil {
		s.goDirect("the namespace log cannot be started over", err)
		return s.checkpointLocked() // records no log position
	}
	return nil
}

// rebuildLocked opens live again from the database and the log after
// live was lost, or marks the namespace broken.
func (s *nsDB) rebuildLocked(cause error) {
	if s.live != nil {
		s.live.Rollback()
		s.live = nil
	}
	tx, err := s.db.Begin(true)
	if err == nil && !s.direct {
		epoch, seq, off := s.log.epoch, s.log.seq, s.log.off
		_, _, err = replayLog(tx, s.log)
		if err == nil && (s.log.seq != seq || s.log.off != off || s.log.epoch != epoch) {
			err = errors.New("the log reads back differently")
		}
	}
	if err != nil {
		if tx != nil {
			tx.Rollback()
		}
		s.setBroken(fmt.Errorf("cache: namespace lost its open transaction (%v) and cannot rebuild it: %w (restart filegate)", cause, err))
		return
	}
	s.live = tx
}

// checkpoint commits live when it holds updates older than
// checkpointEvery.
func (s *nsDB) checkpoint(force bool) error {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live == nil || s.direct || s.log.used() == 0 || !force && time.Since(s.lastCheckpoint) < checkpointEvery {
		return nil
	}
	return s.checkpointLocked()
}

// close checkpoints, storing the format a release without the log
// reads (closingFormat), and closes the log.
func (s *nsDB) close() error {
	s.roundMu.Lock()
	defer s.roundMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var first error
	if s.live != nil {
		t := s.txn(nil)
		err := t.meta.b.Put(keyFormat, ns.InoKey(Ino(t.closingFormat())))
		if err == nil {
			s.direct = true // the log's position is all in the database
			err = s.checkpointLocked()
		}
		first = err
		if s.live != nil {
			s.live.Rollback()
			s.live = nil
		}
	}
	if s.log != nil {
		if err := s.log.close(); err != nil && first == nil {
			first = err
		}
	}
	if s.broken == nil {
		s.broken = errors.New("cache: closed")
	}
	return first
}
