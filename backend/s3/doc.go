// Package s3 is a backend.Store on an S3 bucket (Amazon S3 or an
// S3-compatible server), one object per file, with POSIX attributes in
// user metadata. See "Backend mapping (S3)" in the README for the layout
// other tools see.
//
// The file "a/b.txt" is the object PREFIX+"a/b.txt", byte for byte; the
// directory "a/" is a zero-byte marker object PREFIX+"a/"; a symlink is
// an object whose body is its target. Type, mode, uid, gid and mtime are
// user metadata (see meta.go); objects without it (written by other tools)
// are listed with nil Attrs, so the cache applies its configured defaults.
//
// Credentials come only from the AWS SDK's default chain (environment,
// shared config and profile, SSO, container and instance roles); this
// package never sees, logs or stores a secret.
//
// Retries: the SDK's own retryer is turned off (one attempt per call), so
// that retries happen in exactly one layer, the backend/retry wrapper that
// `filegate serve` puts around this store. The cache's write-back journal
// additionally re-attempts a failed change after an outage, with a long
// backoff; that is outage handling, not request retry. The only loops in
// this package are for consistency, not for failures: Copy re-reads its
// source when the source changed between its HEAD and its copy (HTTP 412),
// and an abort of a multipart upload is checked and sent again until the
// upload stays gone.
//
// Big files go up as multipart uploads with parallel parts (see Put); a
// failed upload is aborted, and New aborts the incomplete uploads under
// the prefix left by an earlier process, since the gateway owns it.
package s3
