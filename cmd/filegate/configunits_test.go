package main

import (
	"io/fs"
	"testing"
)

func TestSize(t *testing.T) {
	for text, want := range map[string]Size{"16MiB": 16 << 20, "16 MiB": 16 << 20, "512KiB": 512 << 10, "1GiB": 1 << 30, "100B": 100, "4096": 4096} {
		var s Size
		if err := s.UnmarshalText([]byte(text)); err != nil || s != want {
			t.Errorf("Size(%q) = %d, %v; want %d", text, s, err, want)
		}
		var back Size
		if err := back.UnmarshalText([]byte(s.String())); err != nil || back != s {
			t.Errorf("Size %d formats as %q, which reads back as %d", s, s.String(), back)
		}
	}
	for _, text := range []string{"", "16MB", "-1MiB", "1.5GiB", "MiB", "99999999999GiB"} {
		var s Size
		if err := s.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("Size(%q) = %d, want an error", text, s)
		}
	}
}

func TestModeFileMode(t *testing.T) {
	tests := []struct {
		mode Mode
		want fs.FileMode
	}{
		{0o644, 0o644},
		{0o755, 0o755},
		{0o4755, fs.ModeSetuid | 0o755},
		{0o2775, fs.ModeSetgid | 0o775},
		{0o1777, fs.ModeSticky | 0o777},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			if got := tt.mode.FileMode(); got != tt.want {
				t.Errorf("Mode(%s).FileMode() = %v, want %v", tt.mode, got, tt.want)
			}
		})
	}
}
