// Package testutil holds the helpers that the tests of several packages
// share: waiting for a condition with a deadline, checking that a test
// left no file descriptor open, and the logger of in-process servers.
//
// It is imported by tests only.
package testutil
