// Package gateway holds what filegate serves beside NFS itself: the admin
// API and the RPC metrics. The NFSv3, MOUNT and portmapper server is
// gateway/nfsd.
//
// admin.go serves the admin API (status, flush, refresh, pin, unpin,
// evict, log level) as HTTP and JSON on a unix socket for the admin verbs
// of cmd/filegate. It sees every export, each over a cache of its own:
// status reports each one and their sum, and a verb's path names its
// export by the export's name ("/office/docs/a.txt").
//
// rpcstats.go counts and times every RPC by procedure from a copy of each
// connection's bytes (RPCMeter wraps the server's listener), so the
// server needs no hook per call.
package gateway
