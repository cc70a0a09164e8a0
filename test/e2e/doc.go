// Package e2e holds the end-to-end tests of the disk cache and its
// write-back, driven through a real NFSv3 client (go-nfs-client) over
// TCP: the crash test kills a real `filegate serve` with SIGKILL again
// and again and checks every acknowledged byte in the backend; the
// in-process tests run a cache over backend/faultstore for cloud
// outages, the dirty limit, eviction under pressure, conflicts and
// changes made in the cloud by others. Each runs on the POSIX backend
// and on S3 (versitygw, see backend/s3/s3test).
//
// The package has test files only, apart from this comment.
package e2e
