package e2e

import (
	"bytes"
	"context"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/cache"
)

// TestOutage: with the backend down (every call refused) or hung (every
// call stalls until its context ends), creates, mkdir, writes,
// overwrites, renames of files and directories, removes, chmod and
// reads of cached files keep working over NFS; no call hangs; the
// changes wait in the journal. Reading a file that is not cached fails
// with an error, neither hanging nor returning zeros. Once the backend
// is back, a flush leaves exactly the expected tree in it.
func TestOutage(t *testing.T) {
	outages := []struct {
		name  string
		fault faultstore.Fault
	}{
		{"down", faultstore.Fault{Err: syscall.ECONNREFUSED}},
		{"hung", faultstore.Fault{Stall: true}},
	}
	for _, kind := range backendKinds {
		for _, o := range outages {
			t.Run(kind+"/"+o.name, func(t *testing.T) { testOutage(t, kind, o.fault) })
		}
	}
}

func testOutage(t *testing.T, kind string, fault faultstore.Fault) {
	// The gateway bounds each cache call by OpTimeout; a stalled fetch
	// must come back as an error before the client's hang check.
	// The journal bounds each backend change by its own OpTimeout (plus
	// time in proportion to an upload's size), so a hung call fails and
	// is retried once the backend is back.
	e := newEnv(t, kind, envConfig{opTimeout: 2 * time.Second, cache: func(c *cache.Config) {
		c.UploadDelay = 0
		c.OpTimeout = time.Second
	}})
	nfs := e.nfs
	warm := randomBytes(1, 3<<20+5)
	cold := randomBytes(2, 200<<10)
	e.cloud.write(t, "seed/warm.bin", warm)
	e.cloud.write(t, "seed/cold.bin", cold)
	e.cloud.write(t, "seed/small.txt", []byte("small and cached"))
	before := map[string][]byte{
		"work/a.txt": []byte("a, first version"),
		"work/b.txt": []byte("b, to be moved"),
		"work/c.txt": []byte("c, to be removed"),
		"work/d.txt": []byte("d, to be chmodded"),
	}
	if _, err := nfs.Mkdir("/work", 0o755); err != nil {
		t.Fatal(err)
	}
	for p, b := range before {
		if err := nfs.writeFile("/"+p, b); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string][]byte{"seed/warm.bin": warm, "seed/small.txt": []byte("small and cached")} {
		if got, err := nfs.readFile("/" + p); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s before the outage: %d bytes, %v", p, len(got), err)
		}
	}
	if _, err := nfs.names("/seed"); err != nil {
		t.Fatal(err)
	}
	e.flush(30 * time.Second)

	e.setAll(fault)
	writeBackCalls := func() int64 {
		return e.fault.Calls(faultstore.Stat) + e.fault.Calls(faultstore.Put) +
			e.fault.Calls(faultstore.Copy) + e.fault.Calls(faultstore.Delete)
	}
	calls := writeBackCalls()
	big := randomBytes(3, 1<<20+3)
	a2 := []byte("a, second version, written during the outage")
	do := func(what string, fn func() error) { t.Helper(); mustNoHang(t, what, fn) }
	do("create new.bin", func() error { return nfs.writeFile("/work/new.bin", big) })
	do("create empty", func() error { return nfs.writeFile("/work/empty", nil) })
	do("mkdir sub", func() error { _, err := nfs.Mkdir("/work/sub", 0o755); return err })
	do("create sub/deep.txt", func() error { return nfs.writeFile("/work/sub/deep.txt", []byte("deep")) })
	do("overwrite a.txt", func() error { return nfs.writeFile("/work/a.txt", a2) })
	do("rename b.txt", func() error { return nfs.Rename("/work/b.txt", "/work/sub/b-moved.txt") })
	do("remove c.txt", func() error { return nfs.Remove("/work/c.txt") })
	do("chmod d.txt", func() error { return nfs.chmod("/work/d.txt", 0o600) })
	do("rename dir sub", func() error { return nfs.Rename("/work/sub", "/work/sub2") })
	do("mkdir gone", func() error { _, err := nfs.Mkdir("/work/gone", 0o755); return err })
	do("rmdir gone", func() error { return nfs.RmDir("/work/gone") })
	for p, want := range map[string][]byte{
		"/seed/warm.bin": warm, "/seed/small.txt": []byte("small and cached"),
		"/work/a.txt": a2, "/work/new.bin": big, "/work/sub2/b-moved.txt": before["work/b.txt"],
		"/work/sub2/deep.txt": []byte("deep"), "/work/d.txt": before["work/d.txt"],
	} {
		var got []byte
		do("read "+p, func() (err error) { got, err = nfs.readFile(p); return err })
		if !bytes.Equal(got, want) {
			t.Errorf("%s during the outage: %d bytes, want %d", p, len(got), len(want))
		}
	}
	var names []string
	do("readdir work", func() (err error) { names, err = nfs.names("/work"); return err })
	if want := []string{"a.txt", "d.txt", "empty", "new.bin", "sub2"}; !slices.Equal(names, want) {
		t.Errorf("READDIR /work during the outage = %q, want %q", names, want)
	}
	// Not cached: the gateway has nothing to serve.
	var coldGot []byte
	err := noHang(t, "read cold.bin", func() (err error) { coldGot, err = nfs.readFile("/seed/cold.bin"); return err })
	if err == nil {
		t.Errorf("reading a file that is not cached during the outage succeeded with %d bytes (zeros: %v); want an error",
			len(coldGot), bytes.Count(coldGot, []byte{0}) == len(coldGot))
	} else {
		t.Logf("uncached read during the outage: %v", err)
	}
	st := e.cache.Stats()
	if st.JournalOps == 0 || st.DirtyFiles == 0 {
		t.Errorf("during the outage: %d journal ops, %d dirty files; want both > 0", st.JournalOps, st.DirtyFiles)
	}
	if writeBackCalls() == calls {
		t.Errorf("the write-back did not try the backend during the outage")
	}
	// Nothing reached the backend meanwhile.
	if _, err := e.cloud.read("work/c.txt"); err != nil {
		t.Errorf("work/c.txt gone from the backend during the outage: %v", err)
	}

	e.fault.Clear()
	// A stalled upload of 1 MiB gives up after OpTimeout + 4 s; the
	// deadline only catches a write-back that never resumes.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := e.cache.Flush(ctx); err != nil {
		t.Fatalf("flush after the backend came back: %v (stats %+v)", err, e.cache.Stats())
	}
	got := e.cloud.tree(t)
	want := newTree()
	want.add("seed/warm.bin", warm)
	want.add("seed/cold.bin", cold)
	want.add("seed/small.txt", []byte("small and cached"))
	want.add("work/a.txt", a2)
	want.add("work/d.txt", before["work/d.txt"])
	want.add("work/new.bin", big)
	want.add("work/empty", nil)
	want.add("work/sub2/b-moved.txt", before["work/b.txt"])
	want.add("work/sub2/deep.txt", []byte("deep"))
	want.parentDirs()
	if kind == "s3" {
		// Directories the gateway made have markers; "seed" was made
		// in the bucket without one.
		delete(want.dirs, "seed")
	}
	if d := diff(got, want); len(d) > 0 {
		t.Errorf("backend after the outage and a flush:\n%s", lines(d))
	}
	if m := e.cloud.mode(t, "work/d.txt"); m != 0o600 {
		t.Errorf("work/d.txt has mode %v in the backend, want %v", m, os.FileMode(0o600))
	}
	if got, err := nfs.readFile("/seed/cold.bin"); err != nil || !bytes.Equal(got, cold) {
		t.Errorf("cold.bin after the outage: %d bytes, %v", len(got), err)
	}
}
