// Package memstore is an in-memory backend.Store for tests. Directory
// markers are ordinary keys: a marker exists only when it was put, and
// deleting one never fails because keys remain below it.
package memstore
