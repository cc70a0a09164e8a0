package writeback

import (
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

func TestConflictKeyNames(t *testing.T) {
	now := time.Date(2026, 11, 26, 6, 30, 0, 0, time.UTC)
	tests := map[string]string{
		"report.docx":   "report.conflict-20261126-063000.docx",
		"a/b/.bashrc":   "a/b/.bashrc.conflict-20261126-063000",
		"noext":         "noext.conflict-20261126-063000",
		"d/archive.tar": "d/archive.conflict-20261126-063000.tar",
	}
	for in, want := range tests {
		if got := conflictKey(in, now); got != want {
			t.Errorf("conflictKey(%q) = %q, want %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 250) + ".txt"
	if got := conflictKey(long, now); len(got) > backend.MaxNameBytes || backend.ValidateKey(got) != nil {
		t.Errorf("long name gives %d bytes", len(got))
	}
}
