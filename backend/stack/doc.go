// Package stack composes the layers a store is used through, in one
// function, so the order of the layers, and so what each one sees, is
// decided in one place:
//
//	caller → retry → limit → metered → store
//
// The retry layer is on top so that a retried request passes the limit
// and the meter again, like the request it repeats: a retried upload is
// throttled again, as its bytes are sent again, and the metered layer
// next to the store counts every request actually sent, its latency is
// one request's rather than a sum over retries, and a probe calling it
// directly sees the network without retries hiding it.
//
// Renames are not a layer: package move works on any Store, composed or
// not.
package stack
