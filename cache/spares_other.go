//go:build !linux

package cache

import "errors"

// sparesSupported: only Linux renames without replacing (renameat2).
const sparesSupported = false

// renameNoReplace is Linux only: elsewhere, spares are not used.
func renameNoReplace(from, to string) error { return errors.ErrUnsupported }

// lowerPriority does nothing: no spares are made.
func lowerPriority() {}
