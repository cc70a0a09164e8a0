// Package gateway is filegate's front door: what clients and operators
// talk to, over the caches of the exports. Its subpackages:
//
//   - gateway/nfsd is the NFSv3, MOUNT and portmapper server over the
//     cache's inode API: file handles, export policy (client lists,
//     squash, read-only), credentials checked per operation, and the RPC
//     counters by procedure, counted where each call is dispatched.
//   - gateway/admin is the admin API on a unix socket: the status
//     document, health, and the verbs (flush, refresh, pin, unpin, evict,
//     log level) of cmd/filegate's admin commands.
//
// Both serve several exports at once, each over a cache of its own.
// This package holds what they share: ExportOf, which export a path
// names, so MNT and the admin verbs agree on it.
package gateway
