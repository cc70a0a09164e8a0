// Package posix is a backend.Store over a directory: a local folder, or an
// EFS or NFS mount. Key "a/b.txt" is the file ROOT/a/b.txt and marker "a/"
// is the directory ROOT/a, so other tools see ordinary files. Attrs live in
// the inode itself (mode, owner, mtime), never in side files.
//
// Writes are durable and atomic: a temp file in the target directory,
// fsync, rename, fsync of the directory. Temp names begin with
// ".filegate-tmp-" (backend.TempPrefix): List hides them, and
// backend.ValidateKey refuses keys with such a name.
// A crash between creating a temp and renaming it leaves the temp behind.
// New removes those in the background (see Sweep): the store is meant to
// have one writer, the gateway, so every temp that this Store did not
// make is a leftover. Delete also removes temps untouched for an hour
// when they are the last things in a directory it is asked to remove.
//
// Every access goes through an os.Root and *at system calls on an open
// parent directory, so a symlink inside the tree cannot lead a key outside
// Root. A key's last component is never followed: a symlink is an object
// of its own. The package targets Linux.
package posix
