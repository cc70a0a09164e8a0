package e2e

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
)

// TestConflict: a file uploaded, then changed through NFS while (its
// upload held back by a long UploadDelay) someone else writes the same
// object in the cloud. The flush keeps both: ours at the name, theirs
// beside it as "<base>.conflict-YYYYMMDD-HHMMSS<.ext>", which READDIR
// shows after the directory is refreshed.
func TestConflict(t *testing.T) {
	cases := []struct {
		dir, name string
		// aside matches the conflict copy's name.
		aside string
	}{
		{"", "doc.txt", `^doc\.conflict-\d{8}-\d{6}\.txt$`},
		{"reports", "q3.final.docx", `^q3\.final\.conflict-\d{8}-\d{6}\.docx$`},
		{"reports", "notes", `^notes\.conflict-\d{8}-\d{6}$`},
	}
	for _, kind := range backendKinds {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, kind, envConfig{cache: func(c *cache.Config) {
				c.UploadDelay = time.Hour // only Flush uploads
			}})
			if _, err := e.nfs.Mkdir("/reports", 0o755); err != nil {
				t.Fatal(err)
			}
			first := func(int) []byte { return []byte("first version, uploaded") }
			ours := func(i int) []byte { return randomBytes(uint64(100+i), 5000+i) }
			theirs := func(i int) []byte { return fmt.Appendf(nil, "their edit %d, made in the cloud meanwhile", i) }
			for i, c := range cases {
				if err := e.nfs.writeFile("/"+join(c.dir, c.name), first(i)); err != nil {
					t.Fatal(err)
				}
			}
			e.flush(30 * time.Second)
			for i, c := range cases {
				key := join(c.dir, c.name)
				if got, err := e.cloud.read(key); err != nil || !bytes.Equal(got, first(i)) {
					t.Fatalf("%s after the first upload: %q, %v", key, got, err)
				}
				if err := e.nfs.writeFile("/"+key, ours(i)); err != nil {
					t.Fatal(err)
				}
				e.cloud.write(t, key, theirs(i))
			}
			if st := e.cache.Stats(); st.DirtyFiles != len(cases) {
				t.Fatalf("%d dirty files before the flush, want %d (UploadDelay should hold them)", st.DirtyFiles, len(cases))
			}
			e.flush(30 * time.Second)

			got := e.cloud.tree(t)
			want := newTree()
			asides := map[string]string{} // dir -> name of the conflict copy
			for i, c := range cases {
				key := join(c.dir, c.name)
				want.add(key, ours(i))
				for p := range got.files {
					if d, name := splitKey(p); d == c.dir && regexp.MustCompile(c.aside).MatchString(name) {
						want.add(p, theirs(i))
						asides[key] = name
					}
				}
				if asides[key] == "" {
					t.Errorf("no conflict copy of %s matching %s in the backend", key, c.aside)
				}
			}
			want.dirs["reports"] = true
			if d := diff(got, want); len(d) > 0 {
				t.Errorf("backend after the conflicts:\n%s", lines(d))
			}
			if n := e.cache.Stats().Conflicts; n != int64(len(cases)) {
				t.Errorf("Stats().Conflicts = %d, want %d", n, len(cases))
			}

			for _, dir := range []string{"", "reports"} {
				if err := e.cache.Refresh(t.Context(), e.lookupIno(dir)); err != nil {
					t.Fatal(err)
				}
			}
			for i, c := range cases {
				key := join(c.dir, c.name)
				if b, err := e.nfs.readFile("/" + key); err != nil || !bytes.Equal(b, ours(i)) {
					t.Errorf("%s through NFS: %d bytes, %v; want ours (%d bytes)", key, len(b), err, len(ours(i)))
				}
				if asides[key] == "" {
					continue
				}
				names, err := e.nfs.names("/" + c.dir)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(names, asides[key]) {
					t.Errorf("READDIR /%s = %q: no %s", c.dir, names, asides[key])
				}
				aside := join(c.dir, asides[key])
				if b, err := e.nfs.readFile("/" + aside); err != nil || !bytes.Equal(b, theirs(i)) {
					t.Errorf("%s through NFS: %q, %v; want theirs", aside, b, err)
				}
			}
		})
	}
}

// splitKey splits a key into its directory ("" for the root) and name.
func splitKey(key string) (dir, name string) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return "", key
}

func lines(l []string) string {
	var b bytes.Buffer
	for _, s := range l {
		b.WriteString("\t" + s + "\n")
	}
	return b.String()
}
