package e2e

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

// TestEvictionUnderPressure: a cache of 8 MiB holding 20 files of 1 MiB
// evicts clean files in the background, from HighWater down to LowWater:
// every read through NFS returns the right content (fetched again from
// the backend when evicted), and once the evictor has run UsedBytes is
// within MaxBytes. A dirty file (its upload failing) is never evicted,
// whatever the pressure, and reads back whole.
func TestEvictionUnderPressure(t *testing.T) {
	const (
		maxBytes = 8 << 20
		fileSize = 1 << 20
		files    = 20
	)
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, envConfig{cache: func(c *cache.Config) {
				c.MaxBytes, c.HighWater, c.LowWater = maxBytes, 0.9, 0.6
				c.UploadDelay = 0
				c.ReadAheadBytes = fileSize
			}})
			content := func(i int) []byte { return randomBytes(uint64(1000+i), fileSize) }
			name := func(i int) string { return fmt.Sprintf("/f%02d.bin", i) }
			for i := range files {
				if err := e.nfs.writeFile(name(i), content(i)); err != nil {
					t.Fatal(err)
				}
			}
			e.flush(30 * time.Second)
			// settled waits for the evictor (kicked past HighWater, and
			// on a 2 s tick) to bring the cache within its size.
			settled := func(when string) {
				t.Helper()
				var st cache.Stats
				if !testutil.Poll(6*time.Second, func() bool { st = e.cache.Stats(); return st.UsedBytes <= maxBytes }) {
					t.Fatalf("%s: UsedBytes %d stays over MaxBytes %d (evictions %d, dirty %d bytes)",
						when, st.UsedBytes, maxBytes, st.Evictions, st.DirtyBytes)
				}
			}
			settled("after writing and uploading")
			remote := e.cache.Stats().RemoteReads
			for round := range 3 {
				for i := range files {
					got, err := e.nfs.readFile(name(i))
					if err != nil || !bytes.Equal(got, content(i)) {
						t.Fatalf("round %d: %s: %d bytes, %v", round, name(i), len(got), err)
					}
				}
				settled(fmt.Sprintf("after read round %d", round))
			}
			st := e.cache.Stats()
			if st.Evictions == 0 || st.RemoteReads == remote {
				t.Errorf("%d files of %d bytes through a cache of %d: %d evictions, %d remote reads; want both > 0",
					files, fileSize, maxBytes, st.Evictions, st.RemoteReads-remote)
			}

			// A dirty file, then pressure: the other files read again
			// (newer than it in the LRU) and then some.
			e.fault.Set(faultstore.Put, faultstore.Fault{Err: syscall.ECONNREFUSED})
			dirty := randomBytes(7, fileSize+123)
			if err := e.nfs.writeFile("/dirty.bin", dirty); err != nil {
				t.Fatal(err)
			}
			evictions := e.cache.Stats().Evictions
			for round := range 2 {
				for i := range files {
					got, err := e.nfs.readFile(name(i))
					if err != nil || !bytes.Equal(got, content(i)) {
						t.Fatalf("round %d with a dirty file: %s: %d bytes, %v", round, name(i), len(got), err)
					}
				}
			}
			settled("with a dirty file")
			if st := e.cache.Stats(); st.Evictions == evictions || st.DirtyFiles != 1 {
				t.Errorf("with a dirty file: %d evictions, %d dirty files", st.Evictions-evictions, st.DirtyFiles)
			}
			if got, err := e.nfs.readFile("/dirty.bin"); err != nil || !bytes.Equal(got, dirty) {
				t.Fatalf("dirty file after the pressure: %d bytes, %v", len(got), err)
			}
			if _, err := e.cloud.read("dirty.bin"); !isNotExist(err) {
				t.Fatalf("dirty.bin in the backend while uploads fail: %v", err)
			}
			e.fault.Clear()
			e.flush(30 * time.Second)
			if got, err := e.cloud.read("dirty.bin"); err != nil || !bytes.Equal(got, dirty) {
				t.Errorf("dirty.bin in the backend after the flush: %d bytes, %v", len(got), err)
			}
		})
	}
}
