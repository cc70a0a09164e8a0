package ns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/filegate/filegate/cache/vfs"
	"golang.org/x/sys/unix"
)

// The namespace log makes a namespace update durable with one write and
// one fdatasync of a file whose blocks are allocated and written already
// (which costs no filesystem journal commit), where a commit of the
// database costs two fdatasyncs, each of them often a journal commit.
// Updates are applied to an open database transaction in memory and
// logged; a checkpoint commits that transaction and starts the log over.
// See db.go for how the two meet, docs/ARCHITECTURE.md for the format.
//
// File layout: two header slots, each in a 4 KiB block of its own, then
// records from logDataStart. A header holds the log's id (which the
// database records too, so a log is never replayed into another
// database) and its epoch; the valid slot with the higher epoch is the
// current one. Starting over writes the other slot with the next epoch:
// records of older epochs left in the file are ignored from then on.
// A record is [magic][payload length][epoch][sequence][crc32c][4 zero
// bytes] then the payload; replay stops at the first record that is
// torn, of another epoch or out of sequence.

const (
	logHeaderSlot  = 4096
	logDataStart   = 2 * logHeaderSlot
	logRecordHead  = 32
	logHeaderMagic = "FGNSLOG1"
	logRecordMagic = 0x46474c52 // "FGLR"
	// logCapacity is the size the log is written out to (with zeros)
	// when created, so appends never allocate blocks.
	logCapacity = 64 << 20
	// logCheckpointAt is the log size past which a round checkpoints.
	logCheckpointAt = 16 << 20
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// logFile is the open namespace log file.
type logFile struct {
	f        *os.File
	path     string
	id       uint64
	epoch    uint64
	slot     int   // header slot holding epoch
	off      int64 // where the next record goes
	next     int64 // where the one after goes, once the written one is synced
	seq      uint64
	capacity int64
	buf      []byte
	// beforeSync, when set (by tests), runs before each record's sync.
	beforeSync func()
	// bad is set when a new header may or may not be on disk: records
	// appended under the old epoch might then be skipped at replay, so
	// nothing more is appended until a restart.
	bad error
}

var (
	// errLogFull is returned by append when a record does not fit.
	errLogFull = errors.New("cache: namespace log full")
	// errLogCreate wraps what keeps a new log from being made.
	errLogCreate = errors.New("cache: cannot create the namespace log")
)

// openLog opens the log at path, creating and zero-filling it (with a
// new id) when missing. It returns the log positioned at its start;
// call records to read what it holds, then reset.
func openLog(path string, newID func() uint64) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return createLog(path, newID())
	}
	if err != nil {
		return nil, fmt.Errorf("cache: namespace log: %w", err)
	}
	l := &logFile{f: f, path: path}
	if err := l.readHeader(); err != nil {
		f.Close()
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("cache: namespace log: %w", err)
	}
	l.capacity = st.Size()
	if l.capacity < logCapacity {
		if err := fillZeros(f, l.capacity, logCapacity); err != nil {
			f.Close()
			return nil, fmt.Errorf("cache: namespace log %s: extend: %w", path, err)
		}
		l.capacity = logCapacity
	}
	l.off = logDataStart
	return l, nil
}

func createLog(path string, id uint64) (*logFile, error) {
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %w", errLogCreate, path, err)
	}
	l := &logFile{f: f, path: path, id: id, epoch: 1, slot: 0, off: logDataStart, capacity: logCapacity}
	err = fillZeros(f, 0, logCapacity)
	if err == nil {
		err = l.writeHeader(0)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		err = vfs.SyncDir(vfs.OS, filepath.Dir(path))
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("%w %s (%d MiB): %w", errLogCreate, path, logCapacity>>20, err)
	}
	return l, nil
}

func fillZeros(f *os.File, from, to int64) error {
	zeros := make([]byte, 1<<20)
	for off := from; off < to; {
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return f.Sync()
}

func (l *logFile) writeHeader(slot int) error {
	h := make([]byte, 512)
	copy(h, logHeaderMagic)
	binary.BigEndian.PutUint64(h[8:], l.id)
	binary.BigEndian.PutUint64(h[16:], l.epoch)
	binary.BigEndian.PutUint32(h[24:], crc32.Checksum(h[:24], crcTable))
	_, err := l.f.WriteAt(h, int64(slot)*logHeaderSlot)
	return err
}

// readHeader takes the valid header slot with the higher epoch.
func (l *logFile) readHeader() error {
	found := false
	for slot := range 2 {
		h := make([]byte, 28)
		if _, err := l.f.ReadAt(h, int64(slot)*logHeaderSlot); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("cache: namespace log %s: %w", l.path, err)
		}
		if string(h[:8]) != logHeaderMagic || crc32.Checksum(h[:24], crcTable) != binary.BigEndian.Uint32(h[24:]) {
			continue
		}
		id, epoch := binary.BigEndian.Uint64(h[8:]), binary.BigEndian.Uint64(h[16:])
		if !found || epoch > l.epoch {
			l.id, l.epoch, l.slot, found = id, epoch, slot, true
		}
	}
	if !found {
		return fmt.Errorf("cache: namespace log %s has no valid header; if the database was closed cleanly, "+
			"move the log away and filegate makes a new one (updates logged since the last checkpoint would be lost)", l.path)
	}
	return nil
}

// records calls fn with each record's payload of the current epoch, in
// order, and leaves the log positioned after the last one.
func (l *logFile) records(fn func(payload []byte) error) error {
	off := int64(logDataStart)
	head := make([]byte, logRecordHead)
	var seq uint64
	for off+logRecordHead <= l.capacity {
		if _, err := l.f.ReadAt(head, off); err != nil {
			return fmt.Errorf("cache: namespace log %s: %w", l.path, err)
		}
		n := int64(binary.BigEndian.Uint32(head[4:]))
		if binary.BigEndian.Uint32(head) != logRecordMagic || binary.BigEndian.Uint64(head[8:]) != l.epoch ||
			binary.BigEndian.Uint64(head[16:]) != seq+1 || off+logRecordHead+n > l.capacity {
			break
		}
		payload := make([]byte, n)
		if _, err := l.f.ReadAt(payload, off+logRecordHead); err != nil {
			return fmt.Errorf("cache: namespace log %s: %w", l.path, err)
		}
		crc := crc32.Update(crc32.Checksum(head[:24], crcTable), crcTable, payload)
		if crc != binary.BigEndian.Uint32(head[24:]) {
			break
		}
		if err := fn(payload); err != nil {
			return err
		}
		seq++
		off += logRecordHead + n
	}
	l.off, l.seq = off, seq
	return nil
}

// write puts payload in the log as the next record, not yet durable:
// sync makes it so and moves past it.
func (l *logFile) write(payload []byte) error {
	if l.bad != nil {
		return l.bad
	}
	n := int64(len(payload))
	if l.off+logRecordHead+n > l.capacity {
		return errLogFull
	}
	b := l.buf[:0]
	b = binary.BigEndian.AppendUint32(b, logRecordMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint64(b, l.epoch)
	b = binary.BigEndian.AppendUint64(b, l.seq+1)
	b = binary.BigEndian.AppendUint32(b, crc32.Update(crc32.Checksum(b, crcTable), crcTable, payload))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = append(b, payload...)
	l.buf = b
	if cap(l.buf) > 4<<20 {
		l.buf = nil // a rare big round does not pin its buffer
	}
	if _, err := l.f.WriteAt(b, l.off); err != nil {
		return fmt.Errorf("cache: namespace log: %w", err)
	}
	l.next = l.off + int64(len(b))
	return nil
}

// sync makes the record write put durable.
func (l *logFile) sync() error {
	if l.beforeSync != nil {
		l.beforeSync()
	}
	if err := unix.Fdatasync(int(l.f.Fd())); err != nil {
		return fmt.Errorf("cache: namespace log: sync: %w", err)
	}
	l.off = l.next
	l.seq++
	return nil
}

// used is how many bytes of records the log holds.
func (l *logFile) used() int64 { return l.off - logDataStart }

// reset starts the log over with the next epoch, once everything it
// holds is in the database.
func (l *logFile) reset() error {
	if l.bad != nil {
		return l.bad
	}
	l.epoch++
	next := l.slot ^ 1
	err := l.writeHeader(next)
	if err == nil {
		err = unix.Fdatasync(int(l.f.Fd()))
	}
	if err != nil {
		l.bad = fmt.Errorf("cache: namespace log: new header: %w (restart filegate)", err)
		return l.bad
	}
	l.slot, l.off, l.seq = next, logDataStart, 0
	return nil
}

func (l *logFile) close() error { return l.f.Close() }
