// Package gateway holds what filegate serves beside NFS itself: the admin
// API. The NFSv3, MOUNT and portmapper server is gateway/nfsd; it counts
// its own RPCs.
//
// admin.go serves the admin API (status, flush, refresh, pin, unpin,
// evict, log level) as HTTP and JSON on a unix socket for the admin verbs
// of cmd/filegate. It sees every export, each over a cache of its own:
// status reports each one and their sum, and a verb's path names its
// export by the export's name ("/office/docs/a.txt").
package gateway
