package writeback

import (
	"errors"
	"syscall"
	"testing"
)

func TestDirtyLimit(t *testing.T) {
	d := NewDirty(100)
	var ch Changes
	ch.NoteDirty(1, 60)
	d.Apply(&ch)
	// The only dirty file may grow past the limit.
	if err := d.Admit(1, 500); err != nil {
		t.Fatalf("only dirty file refused: %v", err)
	}
	d.Note(2, 30)
	if err := d.Admit(2, 40); err != nil {
		t.Fatalf("within the limit refused: %v", err)
	}
	if err := d.Admit(2, 41); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("past the limit: %v, want ENOSPC", err)
	}
	if err := d.Admit(2, 10); err != nil {
		t.Fatalf("shrinking refused: %v", err)
	}
	if d.Refusals() != 1 || d.Bytes() != 90 || d.Files() != 2 || d.Oldest().IsZero() {
		t.Fatalf("refusals %d, bytes %d, files %d, oldest %v", d.Refusals(), d.Bytes(), d.Files(), d.Oldest())
	}
	ch = Changes{}
	ch.NoteDirty(1, -1)
	d.Apply(&ch)
	if d.Is(1) || !d.Is(2) || d.Bytes() != 30 {
		t.Fatalf("after clean: dirty 1 %v, 2 %v, bytes %d", d.Is(1), d.Is(2), d.Bytes())
	}
	d.SetLimit(0)
	if err := d.Admit(3, 1<<40); err != nil {
		t.Fatalf("no limit refused: %v", err)
	}
}
