// Package background runs the cache's background goroutines: a Group
// counts them, so their owner's Close can wait for every one, and turns
// a panic in one into a logged error, so a bug in one task does not take
// the daemon down.
package background
