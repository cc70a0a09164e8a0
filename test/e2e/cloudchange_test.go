package e2e

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"
)

// TestCloudChanges: files changed, added and deleted directly in the
// backend by someone else show through NFS once the directory holding
// them is refreshed (cache.Refresh), in the root and in a subdirectory;
// files nobody touched keep their content.
func TestCloudChanges(t *testing.T) {
	type change struct {
		name   string
		before []byte // in the cloud at start; nil: absent
		after  []byte // in the cloud after the change; nil: deleted
	}
	changes := []change{
		{"same-size.txt", []byte("version one"), []byte("VERSION TWO")},
		{"grown.bin", randomBytes(1, 100<<10), randomBytes(2, 1<<20+17)},
		{"shrunk.bin", randomBytes(3, 2<<20), []byte("short now")},
		{"emptied.txt", []byte("soon empty"), []byte{}},
		{"new.txt", nil, []byte("made in the cloud")},
		{"deleted.txt", []byte("doomed"), nil},
		{"untouched.txt", []byte("stays"), []byte("stays")},
	}
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, envConfig{})
			ctx := context.Background()
			for _, dir := range []string{"", "sub"} {
				for _, c := range changes {
					if c.before != nil {
						e.cloud.write(t, join(dir, c.name), c.before)
					}
				}
			}
			// Read everything through NFS, so it is cached.
			for _, dir := range []string{"", "sub"} {
				for _, c := range changes {
					p := "/" + join(dir, c.name)
					got, err := e.nfs.readFile(p)
					switch {
					case c.before == nil && nfsStatus(err) == 2: // NOENT
					case err != nil:
						t.Fatal(err)
					case !bytes.Equal(got, c.before):
						t.Fatalf("%s before the change: %d bytes, want %d", p, len(got), len(c.before))
					}
				}
			}
			// A cloud's modification times may be whole seconds (S3's
			// Last-Modified), and a same-size change is told by its time:
			// change things in a later second than the versions the
			// gateway saw, as a person or pipeline would. The margin is
			// for file timestamps, which lag the wall clock by a tick.
			time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
			for _, dir := range []string{"", "sub"} {
				for _, c := range changes {
					switch {
					case c.after == nil:
						e.cloud.remove(t, join(dir, c.name))
					case !bytes.Equal(c.before, c.after) || c.before == nil:
						e.cloud.write(t, join(dir, c.name), c.after)
					}
				}
			}
			for _, dir := range []string{"", "sub"} {
				if err := e.cache.Refresh(ctx, e.lookupIno(dir)); err != nil {
					t.Fatalf("refresh %q: %v", dir, err)
				}
			}
			for _, dir := range []string{"", "sub"} {
				var want []string
				for _, c := range changes {
					p := "/" + join(dir, c.name)
					got, err := e.nfs.readFile(p)
					if c.after == nil {
						if nfsStatus(err) != 2 {
							t.Errorf("%s deleted in the cloud: read gives %d bytes, %v; want NFS3ERR_NOENT", p, len(got), err)
						}
						continue
					}
					want = append(want, c.name)
					if err != nil {
						t.Errorf("%s: %v", p, err)
					} else if !bytes.Equal(got, c.after) {
						t.Errorf("%s after the change: %d bytes %.20q, want %d bytes %.20q", p, len(got), got, len(c.after), c.after)
					}
				}
				if dir == "" {
					want = append(want, "sub")
				}
				slices.Sort(want)
				names, err := e.nfs.names("/" + dir)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(names, want) {
					t.Errorf("READDIR /%s = %q, want %q", dir, names, want)
				}
			}
		})
	}
}

// join joins a directory ("" for the root) and a name into a key.
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
