// Package faultstore wraps a backend.Store to inject errors, latency and
// hangs per method, switchable while tests run, and counts the calls that
// reach each method.
package faultstore
