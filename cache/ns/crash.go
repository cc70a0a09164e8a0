package ns

import (
	"errors"
	"fmt"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Abandon leaves the namespace as a crash would find it: the open
// transaction is dropped, not committed, the log closed as it is, and
// the database closed. Crash tests stop a cache with it; the next Open
// recovers what the log holds.
func (d *DB) Abandon() {
	d.roundMu.Lock() // not in the middle of a round's log write
	d.mu.Lock()
	if d.live != nil {
		d.live.Rollback()
		d.live = nil
	}
	if d.log != nil {
		d.log.close()
	}
	d.broken = errors.New("cache: abandoned")
	d.mu.Unlock()
	d.roundMu.Unlock()
	d.db.Close()
}

// LogBytes is how many bytes of records the log holds, 0 in direct
// mode. It waits for a round in progress.
func (d *DB) LogBytes() int64 {
	d.roundMu.Lock() // a round syncs the log outside mu
	defer d.roundMu.Unlock()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.log == nil || d.direct {
		return 0
	}
	return d.log.used()
}

// ApplyLog applies to tx, a transaction on a database of the namespace
// (a copy, say), what the log at path holds past that database's
// position, without writing the log: tx then holds the state the next
// Open would find.
func ApplyLog(tx *bolt.Tx, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cache: namespace log: %w", err)
	}
	defer f.Close()
	l := &logFile{f: f, path: path}
	if err := l.readHeader(); err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cache: namespace log: %w", err)
	}
	l.capacity = st.Size()
	_, _, err = replayLog(tx, l)
	return err
}
