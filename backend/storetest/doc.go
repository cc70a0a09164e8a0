// Package storetest is the conformance suite every backend.Store passes:
// the contract in backend.Store's doc comments, written as tests.
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) backend.Store { return memstore.New() })
//	}
package storetest
