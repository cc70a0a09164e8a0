// Package retry wraps a backend.Store to retry calls that failed for a
// reason that may pass: network errors, HTTP 5xx, throttling. It is the
// one retry layer between the cache and a network store (backend/s3
// turns the SDK's own retries off), so attempts never multiply.
//
// Attempts are bounded (Config.MaxAttempts) and spaced by capped
// exponential backoff with jitter, cut short when the caller's ctx ends.
// Errors a retry cannot fix are returned at once: a missing key, an
// invalid key, a directory not empty, a short body, 4xx answers such as
// access denied, and the caller's own cancellation.
//
// This is request retry: it rides out a dropped connection or a burst of
// 503 SlowDown within seconds. A longer outage is the cache's business:
// its write-back journal keeps the failed change and re-attempts it with
// a backoff of up to a minute until the backend is back.
package retry
