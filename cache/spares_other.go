//go:build !linux

package cache

// sparesSupported: spares are made at low priority (lowerPriority),
// which is Linux only.
const sparesSupported = false

// lowerPriority does nothing: no spares are made.
func lowerPriority() (restore func()) { return func() {} }
