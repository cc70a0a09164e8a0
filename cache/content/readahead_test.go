package content

import "testing"

// TestReadAheadSpotsSequentialReaders: a read that starts where the
// file's last one ended is sequential, another is not, and a forgotten
// file starts over; slots bound the read-aheads running.
func TestReadAheadSpotsSequentialReaders(t *testing.T) {
	r := NewReadAhead(1)
	if r.Note(1, 0, 10) {
		t.Fatal("a first read is sequential")
	}
	if !r.Note(1, 10, 20) || r.Note(1, 0, 5) || r.Note(2, 5, 10) {
		t.Fatal("sequential reads misjudged")
	}
	r.Note(1, 5, 30)
	r.Forget(1)
	if r.Note(1, 30, 40) {
		t.Fatal("a forgotten file's read is sequential")
	}
	if !r.TryStart() || r.TryStart() {
		t.Fatal("want one slot")
	}
	r.Done()
	if !r.TryStart() {
		t.Fatal("a slot given back is not free")
	}
}
