package cache

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// TestListHeadsS3 counts the HEADs a directory listing costs on S3
// (versitygw). A directory of n files and m subdirectories written
// through the gateway refreshes with no HEAD at all (ListOptions.Known
// spares the n+m a listing would need, as ListObjectsV2 carries no user
// metadata); a file changed by another tool costs one. A second gateway, which knows
// nothing, reads every object and marker once, and shows the stored
// modes and owners, the subdirectories' included.
func TestListHeadsS3(t *testing.T) {
	const n, m = 100, 3
	srv := s3test.Start(t)
	cfg := srv.NewBucket(t)
	ctx := context.Background()
	st := s3test.Open(t, cfg)
	c := newTestCache(t, t.TempDir(), st)
	d, _, err := c.Mkdir(ctx, RootIno, "d", NewAttr{Mode: 0o750, UID: 1000, GID: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f, _, err := c.Create(ctx, d.Ino, fmt.Sprintf("f%03d", i), NewAttr{Mode: 0o640, UID: 1000, GID: 1000})
		if err != nil {
			t.Fatal(err)
		}
		mustWrite(t, c, f.Ino, 0, fmt.Sprintf("content %d", i))
	}
	for i := range m {
		if _, _, err := c.Mkdir(ctx, d.Ino, fmt.Sprintf("sub%d", i), NewAttr{Mode: 0o700, UID: 1001, GID: 1002}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FlushIno(ctx, RootIno, nil); err != nil {
		t.Fatal(err)
	}

	refreshHeads := func() int64 {
		t.Helper()
		before := st.Stats().Heads
		if err := c.Refresh(ctx, d.Ino); err != nil {
			t.Fatal(err)
		}
		return st.Stats().Heads - before
	}
	heads := refreshHeads()
	t.Logf("refresh of %d files and %d directories written here: %d HEADs", n, m, heads)
	if heads != 0 {
		t.Errorf("refresh of a directory written here sent %d HEADs, want 0", heads)
	}

	key := "d/f007"
	body := "changed in the cloud"
	if _, err := srv.Client().PutObject(ctx, &awss3.PutObjectInput{Bucket: &cfg.Bucket, Key: &key,
		Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if heads := refreshHeads(); heads != 1 {
		t.Errorf("refresh after one file changed in the cloud sent %d HEADs, want 1", heads)
	}
	f, err := c.Lookup(ctx, d.Ino, "f007")
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c, f.Ino); got != body {
		t.Errorf("changed file reads %q, want %q", got, body)
	}

	// A second gateway over the same bucket knows nothing yet.
	c2 := newTestCache(t, t.TempDir(), st)
	d2, err := c2.Lookup(ctx, RootIno, "d")
	if err != nil {
		t.Fatal(err)
	}
	before := st.Stats().Heads
	a, err := c2.Lookup(ctx, d2.Ino, "sub1")
	if err != nil {
		t.Fatal(err)
	}
	heads = st.Stats().Heads - before
	t.Logf("first listing of the same directory by a gateway that knows nothing: %d HEADs", heads)
	if heads != n+m {
		t.Errorf("first listing sent %d HEADs, want %d (one per object and marker)", heads, n+m)
	}
	if a.Mode != fs.ModeDir|0o700 || a.UID != 1001 || a.GID != 1002 {
		t.Errorf("subdirectory listed as %v %d:%d, want its stored %v 1001:1002", a.Mode, a.UID, a.GID, fs.ModeDir|0o700)
	}
	if f, err := c2.Lookup(ctx, d2.Ino, "f001"); err != nil || f.Mode != 0o640 || f.UID != 1000 {
		t.Errorf("file listed as %v %d, %v; want its stored -rw-r----- 1000", f.Mode, f.UID, err)
	}
	if d2.Mode != fs.ModeDir|0o750 || d2.UID != 1000 {
		t.Errorf("directory listed as %v %d, want its stored %v 1000", d2.Mode, d2.UID, fs.ModeDir|0o750)
	}
}
