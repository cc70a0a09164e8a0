// Package metered wraps a backend.Store to observe it: calls, errors and
// latency per operation, bytes sent and received, the last error and the
// last success. A Prober calls the store every few seconds so that an idle
// gateway still knows whether its backend answers, and how fast.
//
// In the daemon the metered layer sits inside the retry layer, next to the
// store itself (cache → retry → limit → metered → store): it counts every
// request sent, retries included, its latency is one request's, and the
// probe, which calls it directly, sees the network as it is rather than
// through retries.
package metered
