//go:build !linux

package cache

// reserveDB keeps room for the namespace database on Linux only.
func (c *Cache) reserveDB() {}
