// Package backend defines the contract between the gateway's cache and the
// cloud side that holds the authoritative copy of every file: an S3 bucket, a
// POSIX directory (an EFS or NFS mount, or a local folder), or an in-memory
// fake for tests.
//
// Keys are slash-separated paths relative to the store's root, the same
// bytes a user sees under the mount: "a/b.txt". A key ending in "/" is a
// directory marker ("a/b/"). Keys never start with "/", never contain an
// empty, "." or ".." component, and each component is at most MaxNameBytes.
// ValidateKey enforces this; every store rejects other keys with an error
// that satisfies errors.Is(err, ErrInvalidKey).
package backend
