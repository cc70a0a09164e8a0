package e2e

import (
	"bytes"
	"fmt"
	"syscall"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"

	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/cache"
)

// TestDirtyLimit: with uploads failing, writes land until the data
// awaiting upload reaches DirtyLimitBytes; the WRITE past it fails with
// NFS3ERR_NOSPC, while the data written before stays readable and
// metadata operations keep working. Once uploads drain, writes work
// again.
func TestDirtyLimit(t *testing.T) {
	const limit = 4 << 20
	const fileSize = 1 << 20
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, envConfig{cache: func(c *cache.Config) {
				c.DirtyLimitBytes = limit
				c.UploadDelay = 0
			}})
			e.fault.Set(faultstore.Put, faultstore.Fault{Err: syscall.ECONNREFUSED})
			content := func(i int) []byte { return randomBytes(uint64(i), fileSize) }
			name := func(i int) string { return fmt.Sprintf("/f%02d.bin", i) }

			// Past the limit by a few files; the first refusal ends it.
			written, refused := 0, -1
			for i := range limit/fileSize + 3 {
				err := noHang(t, "write "+name(i), func() error { return e.nfs.writeFile(name(i), content(i)) })
				if err == nil {
					written++
					continue
				}
				if st := nfsStatus(err); st != nfsc.NFS3ErrNoSpc {
					t.Fatalf("write %s past the dirty limit: %v (status %d), want NFS3ERR_NOSPC (%d)", name(i), err, st, nfsc.NFS3ErrNoSpc)
				}
				t.Logf("write %s: %v", name(i), err)
				refused = i
				break
			}
			if refused < 0 {
				t.Fatalf("wrote %d files of %d bytes with uploads failing and a dirty limit of %d: no NOSPC", written, fileSize, limit)
			}
			if written < limit/fileSize-1 {
				t.Errorf("only %d files of %d bytes written before NOSPC, limit %d", written, fileSize, limit)
			}
			st := e.cache.Stats()
			if st.DirtyBytes > limit || st.DirtyRefusals == 0 {
				t.Errorf("past the limit: DirtyBytes %d (limit %d), DirtyRefusals %d", st.DirtyBytes, limit, st.DirtyRefusals)
			}
			for i := range written {
				if got, err := e.nfs.readFile(name(i)); err != nil || !bytes.Equal(got, content(i)) {
					t.Errorf("%s at the dirty limit: %d bytes, %v", name(i), len(got), err)
				}
			}
			// Metadata needs no room.
			mustNoHang(t, "mkdir at the limit", func() error { _, err := e.nfs.Mkdir("/d", 0o755); return err })
			mustNoHang(t, "rename at the limit", func() error { return e.nfs.Rename(name(0), "/d/moved.bin") })

			e.fault.Clear()
			e.flush(30 * time.Second)
			if st := e.cache.Stats(); st.DirtyBytes != 0 {
				t.Errorf("after the flush: DirtyBytes %d", st.DirtyBytes)
			}
			// Room again: the refused file and more.
			for i := refused; i < refused+limit/fileSize+1; i++ {
				mustNoHang(t, "write "+name(i)+" after the flush", func() error { return e.nfs.writeFile(name(i), content(i)) })
				// Uploads drain as we go.
				e.flush(30 * time.Second)
			}
			want := newTree()
			want.add("d/moved.bin", content(0))
			for i := 1; i < refused+limit/fileSize+1; i++ {
				want.add(name(i)[1:], content(i))
			}
			want.dirs["d"] = true
			if d := diff(e.cloud.tree(t), want); len(d) > 0 {
				t.Errorf("backend after the flush:\n%s", lines(d))
			}
		})
	}
}
