// Command filegate is an office NFSv3 gateway: it serves a local disk cache
// over NFSv3 and syncs the cache to a cloud backend.
//
//	filegate serve [--config FILE] [--listen ADDR] [--state DIR] [--log-level L] [--log-format F]
//	filegate status [--json]
//	filegate flush [--wait] [PATH]
//	filegate refresh|pin|unpin|evict PATH
//	filegate loglevel [LEVEL]
//	filegate version
//	filegate help [serve|config]
//
// Exit status: 0 success, 1 the daemon failed at run time (or status
// found it unhealthy), 2 usage or configuration error, 3 no daemon
// answers on the admin socket.
package main
