// Command backendcheck compares what filegate wrote to its backend with a
// listing the kernel client made of the share (test/knfs/guest/work.sh),
// for test/knfs/run.sh after `filegate flush --wait`:
//
//	backendcheck -listing FILE -under work (-posix DIR | -s3 CONFIG)
//
// It reads the backend the way another tool would, not through filegate's
// own stores: the POSIX folder with lstat, the bucket with a plain S3
// client (endpoint, bucket and prefix from the filegate config file that
// test/knfs/s3server wrote; keys from AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY), so a mapping bug in a store cannot hide itself.
//
// Every listed entry below UNDER must be there with its type, mode bits,
// owner, and for files and symlinks its mtime and content (sha256) or
// target; folders' mtimes are not compared (a folder changes as its
// entries are uploaded). A file of several hard links must be there under
// exactly one of its names (the backend holds one object per inode). Any
// entry below UNDER that the listing does not name (a leftover temporary
// file, a deleted one, a conflict copy) is a problem too. It prints each
// problem and a summary, and exits 1 if there was any.
package main
