// Package refresh is the cache's room for what the cloud changes behind
// its back: it lists directories from the backend and merges them into
// the namespace, notices files whose object changed and gives them the
// new version, and schedules the background listings of directories
// older than DirTTL.
//
// A directory is listed the first time it is used (LoadDir; directories
// made here start loaded). On a first listing any name already present
// wins: the namespace is ahead of the backend for everything made here.
// A refresh (Refresh, or a background one) also removes entries the
// backend no longer lists and gives clean files changed in the cloud
// their new version, dropping the old local content in the same step.
// What is dirty, pending in the journal, or being written stays: ours
// wins, and the upload keeps the cloud's version beside it as a
// conflict copy. A listing that raced a change of its directory is
// dropped and tried again later.
//
// What the room needs of the rest of the cache (transactions with the
// unstable-write overlay, the drop of a file's local content under its
// data lock) it asks of a Host, which the cache implements. It imports
// cache/content for content.Version alone: a fetch tells which version
// of a file it found changed.
//
// # Lock order
//
// Refresher.mu guards the set of background refreshes only; nothing is
// locked under it and it is never held across a namespace transaction or
// a backend call. Host.DropContent takes the data lock and the drop
// bracket of the content room (see cache/doc.go), so it is never called
// from inside a transaction.
package refresh
