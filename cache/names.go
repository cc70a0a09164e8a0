package cache

import (
	"fmt"
	"syscall"

	"github.com/filegate/filegate/backend"
)

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
