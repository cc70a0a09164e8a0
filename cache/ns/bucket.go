package ns

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

var errViewWrite = errors.New("cache: namespace write in a read-only view")

const (
	mutPut    = 1
	mutDelete = 2
)

// Bucket is a namespace bucket whose changes are recorded for the log
// and for undo. Get, Cursor and ForEach are bbolt's: what they return
// is valid for the transaction only.
type Bucket struct {
	b   *bolt.Bucket
	id  byte
	rec *recorder // nil in a view
}

// Get returns the value of k, nil when missing.
func (b *Bucket) Get(k []byte) []byte { return b.b.Get(k) }

// Cursor returns a cursor over the bucket; it must not be used to write.
func (b *Bucket) Cursor() *bolt.Cursor { return b.b.Cursor() }

// ForEach calls fn with every key and value, in key order.
func (b *Bucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }

// Put stores v under k. A nil v is stored empty: in an open transaction
// bbolt's Get cannot tell a nil value from a missing key.
func (b *Bucket) Put(k, v []byte) error {
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
func (b *Bucket) Delete(k []byte) error {
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

func (b *Bucket) current(k []byte) ([]byte, bool) {
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
	b   *Bucket
	key []byte
	old []byte
	had bool
}

func (r *recorder) add(kind byte, b *Bucket, k, v, old []byte, had bool) {
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
