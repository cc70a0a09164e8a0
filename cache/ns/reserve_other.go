//go:build !linux

package ns

// Reserve keeps room for the database on Linux only.
func (d *DB) Reserve() {}
