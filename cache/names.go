package cache

import (
	"fmt"
	"strings"
	"syscall"

	"github.com/filegate/filegate/backend"
)

// checkName rejects names no directory can hold.
func checkName(name string) error {
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("cache: name %q: %w", name, syscall.EINVAL)
	case strings.ContainsAny(name, "/\x00"):
		return fmt.Errorf("cache: name %q contains '/' or NUL: %w", name, syscall.EINVAL)
	case strings.HasPrefix(name, backend.TempPrefix):
		return fmt.Errorf("cache: name %q is reserved for the backend's temporary files: %w", name, syscall.EINVAL)
	case len(name) > backend.MaxNameBytes:
		return fmt.Errorf("cache: name of %d bytes, over %d: %w", len(name), backend.MaxNameBytes, syscall.ENAMETOOLONG)
	}
	return nil
}

// checkKeyRoom rejects a new entry whose backend key would be longer
// than any store accepts, so the failure shows at create time and not
// as a stuck upload. A directory key carries a trailing "/".
func (t *txn) checkKeyRoom(dir Ino, name string, isDir bool) error {
	p, err := t.Path(dir)
	if err != nil {
		return err
	}
	n := len(p) + len(name)
	if p != "" {
		n++
	}
	if isDir {
		n++
	}
	if n > backend.MaxKeyBytes {
		return fmt.Errorf("cache: path of %d bytes, over %d: %w", n, backend.MaxKeyBytes, syscall.ENAMETOOLONG)
	}
	return nil
}
