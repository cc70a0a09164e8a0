package ns

import (
	"fmt"
	"io/fs"
	"strings"
	"syscall"

	"github.com/filegate/filegate/backend"
)

// PermBits are the bits of a mode an inode keeps besides its type: the
// permissions with setuid, setgid and sticky.
const PermBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

// CheckName rejects names no directory can hold: names a client may not
// make, and names a listing of the backend must skip.
func CheckName(name string) error {
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
