package backend

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	long := strings.Repeat(strings.Repeat("k", 200)+"/", 5) + strings.Repeat("k", 19)
	for _, tc := range []struct {
		key     string
		ok      bool
		tooLong bool
	}{
		{"a", true, false},
		{"a/b.txt", true, false},
		{"a/", true, false},
		{"a/b/", true, false},
		{"...", true, false},
		{"a/..b/.c", true, false},
		{" /\t", true, false},
		{strings.Repeat("n", MaxNameBytes), true, false},
		{long, true, false},
		{"", false, false},
		{"/", false, false},
		{"//", false, false},
		{"/a", false, false},
		{"a//b", false, false},
		{"a//", false, false},
		{".", false, false},
		{"./", false, false},
		{"./a", false, false},
		{"a/.", false, false},
		{"..", false, false},
		{"a/../b", false, false},
		{"a/..", false, false},
		{"a\x00", false, false},
		{".filegate-tmp-x", false, false},
		{"a/.filegate-tmp-/", false, false},
		{"a/x.filegate-tmp-", true, false},
		{strings.Repeat("n", MaxNameBytes+1), false, true},
		{"a/" + strings.Repeat("n", MaxNameBytes+1) + "/", false, true},
		{long + "k", false, true},
		{long + "/", false, true},
	} {
		err := ValidateKey(tc.key)
		if (err == nil) != tc.ok {
			t.Errorf("ValidateKey(%.40q) = %v, want ok %v", tc.key, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%.40q) = %v, not ErrInvalidKey", tc.key, err)
		}
		if got := errors.Is(err, ErrNameTooLong); got != tc.tooLong {
			t.Errorf("ValidateKey(%.40q) = %v, ErrNameTooLong %v, want %v", tc.key, err, got, tc.tooLong)
		}
	}
}

// FuzzValidateKey checks that what ValidateKey accepts is a clean relative
// path that splits into usable names, which is what stores rely on when
// they map keys to files.
func FuzzValidateKey(f *testing.F) {
	for _, k := range []string{"a", "a/b.txt", "a/b/", "", "/a", "a//b", "a/../b", "./a", "..", "a\x00b", strings.Repeat("x", 300)} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		if err != nil {
			if !errors.Is(err, ErrInvalidKey) {
				t.Fatalf("ValidateKey(%q) = %v, not ErrInvalidKey", key, err)
			}
			return
		}
		if len(key) > MaxKeyBytes {
			t.Fatalf("accepted a key of %d bytes", len(key))
		}
		body, marker := strings.CutSuffix(key, "/")
		if path.Clean(body) != body || path.IsAbs(body) || body == "." || strings.HasPrefix(body, "../") || body == ".." {
			t.Fatalf("accepted %q, which is not a clean relative path", key)
		}
		parts := strings.Split(body, "/")
		for _, p := range parts {
			if p == "" || p == "." || p == ".." || len(p) > MaxNameBytes || strings.ContainsRune(p, 0) || strings.HasPrefix(p, TempPrefix) {
				t.Fatalf("accepted %q with component %q", key, p)
			}
		}
		rejoined := strings.Join(parts, "/")
		if marker {
			rejoined += "/"
		}
		if rejoined != key {
			t.Fatalf("split and join of %q gave %q", key, rejoined)
		}
		if marker && ValidateKey(body) != nil {
			t.Fatalf("accepted marker %q but not its file key %q", key, body)
		}
	})
}
