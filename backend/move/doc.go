// Package move renames keys in a backend.Store, with the store's own
// atomic Rename when it has one (backend.Renamer: POSIX) and otherwise by
// Copy and Delete (S3, which has no rename and where a directory is only a
// common prefix of keys).
//
// It is a helper over the Store interface rather than a layer of the
// stack: the caller needs the object a move made (its new ETag), which
// Renamer.Rename does not return, and it must work on any Store a caller
// holds, composed or not. A move cut short by an error or a crash is
// finished by calling it again; a key already moved reports
// fs.ErrNotExist, which a caller replaying a move takes for done.
package move
