package main

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"
)

// The unit types of config values: Duration, Size and Mode.

// Duration is a time.Duration written in the config as a Go duration
// string such as "2s", "500ms" or "1m30s". A bare number is rejected rather
// than read as nanoseconds.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText formats d like time.Duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf(`want a duration such as "2s" or "500ms", got %q`, b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalTOML accepts only a TOML string, parsed by UnmarshalText.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`want a quoted duration such as "2s", got %v`, v)
	}
	return d.UnmarshalText([]byte(s))
}

// Size is a byte count, written in the config as a quoted string with a
// binary unit, such as "16MiB", "512KiB" or "1GiB", or as a bare number
// of bytes.
type Size int64

var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String formats s in the largest unit that divides it.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && int64(s)%u.bytes == 0 {
			return strconv.FormatInt(int64(s)/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText formats s like String.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "16MiB", "16 MiB", "512KiB", "1GiB", "100B" or
// "4096".
func (s *Size) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			text, mult = strings.TrimSpace(n), u.bytes
			break
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf(`want a size such as "16MiB", "512KiB" or "1GiB", got %q`, b)
	}
	*s = Size(v * mult)
	return nil
}

// UnmarshalTOML accepts a quoted size, or a bare number of bytes.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		return s.UnmarshalText([]byte(x))
	case int64:
		if x < 0 {
			return fmt.Errorf(`want a size such as "16MiB", got %d`, x)
		}
		*s = Size(x)
		return nil
	}
	return fmt.Errorf(`want a size such as "16MiB", got %v`, v)
}

// Mode is a Unix permission mode (permission bits plus setuid 04000,
// setgid 02000 and sticky 01000), written in the config as a quoted octal
// string such as "0644". A bare number is rejected: TOML would read 0644 as
// decimal.
type Mode uint32

// String formats m as four octal digits, such as "0644".
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalText formats m as four octal digits.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses an octal mode such as "0644", "644" or "0o644".
func (m *Mode) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(string(b), "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf(`want an octal mode such as "0644", got %q`, b)
	}
	*m = Mode(v)
	return nil
}

// UnmarshalTOML accepts only a TOML string, parsed by UnmarshalText.
func (m *Mode) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`want a quoted octal mode such as "0644", got %v`, v)
	}
	return m.UnmarshalText([]byte(s))
}

func (m Mode) valid() bool { return m <= 0o7777 }

// FileMode converts m to an fs.FileMode: the permission bits, with the Unix
// setuid, setgid and sticky bits mapped to fs.ModeSetuid, fs.ModeSetgid and
// fs.ModeSticky.
func (m Mode) FileMode() fs.FileMode {
	fm := fs.FileMode(m) & fs.ModePerm
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}
