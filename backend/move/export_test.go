package move

import "testing"

// SetBatchKeys sets the size of Tree's batches for the rest of t.
func SetBatchKeys(t *testing.T, n int) {
	old := batchKeys
	batchKeys = n
	t.Cleanup(func() { batchKeys = old })
}
