//go:build !linux

package content

// SparesSupported: spares are made at low priority (lowerPriority),
// which is Linux only.
const SparesSupported = false

// lowerPriority does nothing: no spares are made.
func lowerPriority() (restore func()) { return func() {} }
