package memstore_test

import (
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/memstore"
	"github.com/filegate/filegate/backend/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) backend.Store { return memstore.New() })
}
