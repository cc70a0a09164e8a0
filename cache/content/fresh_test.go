package content

import (
	"slices"
	"testing"
)

// TestFreshRecordsOnlyWhatStayed: chunks recorded from a snapshot leave
// the fresh set, those fetched after it stay; a drop between the
// snapshot and its recording keeps the dropped chunks from being
// recorded, and chunks of another version never overlay this one's.
func TestFreshRecordsOnlyWhatStayed(t *testing.T) {
	f := NewFresh()
	const ino = Ino(5)
	v1, v2 := Version{"a", 3 * ChunkSize, 1}, Version{"b", 3 * ChunkSize, 2}
	f.Mark(ino, v1, 0)
	s := f.Snap(ino)
	f.Mark(ino, v1, 2)
	if b := f.Overlay(ino, v1, nil); !b.Has(0) || !b.Has(2) || b.Has(1) {
		t.Fatalf("overlay %08b", b)
	}
	if b := f.Overlay(ino, v2, nil); len(b) != 0 {
		t.Fatalf("another version's chunks overlaid: %08b", b)
	}
	if b := f.Merge(s, nil); !b.Has(0) || b.Has(2) {
		t.Fatalf("merge %08b, want chunk 0 only", b)
	}
	f.Done(s, false)
	if f.Count() != 1 || !slices.Equal(f.Inos(), []Ino{ino}) {
		t.Fatalf("%d fresh chunks of %v left, want chunk 2", f.Count(), f.Inos())
	}

	s = f.Snap(ino)
	f.Drop(ino)
	f.Mark(ino, v2, 1) // fetched anew after the drop
	if b := f.Merge(s, nil); len(b) != 0 {
		t.Fatalf("dropped chunks merged: %08b", b)
	}
	f.Done(s, false)
	if f.Count() != 1 || !f.Overlay(ino, v2, nil).Has(1) {
		t.Fatalf("the chunk fetched after the drop went: %d left", f.Count())
	}
	f.Done(f.Snap(ino), true)
	if f.Count() != 0 || len(f.Inos()) != 0 {
		t.Fatalf("stale chunks kept: %d", f.Count())
	}
}

// TestBitmap: Count counts only the first n chunks.
func TestBitmap(t *testing.T) {
	var b Bitmap
	for _, i := range []int64{0, 7, 8, 20} {
		b.Set(i)
	}
	if b.Count(8) != 2 || b.Count(9) != 3 || b.Count(64) != 4 || b.Full(2) || !b.Has(20) || b.Has(21) {
		t.Fatalf("bitmap %08b", b)
	}
	if !(Bitmap{0xff}).Full(8) || ChunkCount(ChunkSize+1) != 2 {
		t.Fatal("full or count wrong")
	}
}

// TestFreshKicksWhenManyWait: the recording is asked to run early once
// freshLimit chunks wait, not before.
func TestFreshKicksWhenManyWait(t *testing.T) {
	f := NewFresh()
	v := Version{"a", freshLimit * ChunkSize, 1}
	for i := range int64(freshLimit - 1) {
		f.Mark(1, v, i)
	}
	select {
	case <-f.Kicked():
		t.Fatal("kicked before the limit")
	default:
	}
	f.Mark(1, v, freshLimit-1)
	select {
	case <-f.Kicked():
	default:
		t.Fatal("no kick at the limit")
	}
}
