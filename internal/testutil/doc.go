// Package testutil holds the helpers that the tests of several packages
// share: waiting for a condition with a deadline, checking that a test
// left no file descriptor open, the logger of in-process servers, a
// POSIX store on a temporary folder, and a small tmpfs.
//
// Tests and test-support packages (backend/storetest) import it; no
// binary does.
package testutil
