package backend

import (
	"fmt"
	"strings"
)

// TempPrefix begins the names of files a store is still writing (the
// POSIX store's temp files). No key may have a component starting with
// it, so the cache refuses such names when they are made rather than
// failing to upload them later.
const TempPrefix = ".filegate-tmp-"

// ValidateKey reports whether key can be stored by every store. A trailing
// "/" (a directory marker) is allowed; the empty key is not.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("backend: empty key: %w", ErrInvalidKey)
	}
	if len(key) > MaxKeyBytes {
		return fmt.Errorf("backend: key of %d bytes, over %d: %w", len(key), MaxKeyBytes, nameTooLong)
	}
	body := strings.TrimSuffix(key, "/")
	if body == "" || strings.HasPrefix(body, "/") {
		return fmt.Errorf("backend: key %q: %w", key, ErrInvalidKey)
	}
	for _, part := range strings.Split(body, "/") {
		switch {
		case part == "" || part == "." || part == "..":
			return fmt.Errorf("backend: key %q has component %q: %w", key, part, ErrInvalidKey)
		case len(part) > MaxNameBytes:
			return fmt.Errorf("backend: key %q has a component of %d bytes, over %d: %w", key, len(part), MaxNameBytes, nameTooLong)
		case strings.ContainsRune(part, 0):
			return fmt.Errorf("backend: key %q contains NUL: %w", key, ErrInvalidKey)
		case strings.HasPrefix(part, TempPrefix):
			return fmt.Errorf("backend: key %q has a name reserved for temp files: %w", key, ErrInvalidKey)
		}
	}
	return nil
}

// nameTooLong matches both ErrNameTooLong and ErrInvalidKey.
var nameTooLong = joinedErr{ErrNameTooLong, ErrInvalidKey}

type joinedErr [2]error

func (j joinedErr) Error() string { return j[0].Error() }

func (j joinedErr) Is(target error) bool { return target == j[0] || target == j[1] }
