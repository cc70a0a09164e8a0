package content

import (
	"slices"
	"testing"
)

// TestLRUEvictsOldestFirst: EvictTo offers the least recently used
// files first, counts what evict unaccounts, and stops at the target;
// a file it keeps moves to the front.
func TestLRUEvictsOldestFirst(t *testing.T) {
	u := NewLRU(100, 0.9, 0.5)
	u.Load(1, 30)
	u.Load(2, 30)
	u.Account(3, 30)
	u.Touch(1) // now 2 is the oldest, then 3, then 1
	if u.Used() != 90 || u.Bytes(2) != 30 {
		t.Fatalf("used %d, ino 2 holds %d", u.Used(), u.Bytes(2))
	}
	var offered []Ino
	u.EvictTo(40, func(ino Ino) {
		offered = append(offered, ino)
		if ino != 2 { // 2 is busy: kept
			u.Unaccount(ino)
		}
	})
	if want := []Ino{2, 3, 1}; !slices.Equal(offered, want) {
		t.Fatalf("offered %v, want %v", offered, want)
	}
	if u.Used() != 30 || u.Bytes(2) != 30 {
		t.Fatalf("used %d after eviction, want ino 2's 30", u.Used())
	}
}

// TestLRUKicksPastTheHighMark: an Account that takes the cache past its
// high watermark kicks the evictor; Load, at start, does not.
func TestLRUKicksPastTheHighMark(t *testing.T) {
	u := NewLRU(100, 0.9, 0.5)
	u.Load(1, 95)
	select {
	case <-u.Kicked():
		t.Fatal("Load kicked the evictor")
	default:
	}
	u.Account(2, 1)
	select {
	case <-u.Kicked():
	default:
		t.Fatal("past the high mark, no kick")
	}
	u.SetMarks(1000, 0.9, 0.5)
	if u.Max() != 1000 || u.High() != 900 || u.Low() != 500 {
		t.Fatalf("marks %d %d %d", u.Max(), u.High(), u.Low())
	}
}
