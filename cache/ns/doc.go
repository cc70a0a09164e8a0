// Package ns is the cache's namespace: inodes and directory entries as
// records in a bbolt database. Its records and keys are an on-disk
// format: existing state folders must keep opening.
package ns
