package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// TestS3 reads a bucket laid out as README.md's "Backend mapping (S3)"
// says, through versitygw: the same tree as backendTree's, then with a
// wrong mode and an object the share does not have.
func TestS3(t *testing.T) {
	ctx := context.Background()
	srv := s3test.Start(t)
	const bucket = "backendcheck"
	if err := srv.CreateBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	put := func(key, body, typ, mode string) {
		t.Helper()
		_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("share/" + key),
			Body: strings.NewReader(body), Metadata: map[string]string{"filegate-type": typ, "filegate-mode": mode,
				"filegate-uid": "1000", "filegate-gid": "1000", "filegate-mtime": "1600000000500000000"}})
		if err != nil {
			t.Fatal(err)
		}
	}
	put("work/", "", "dir", "755")
	put("work/a.txt", "alpha", "file", "640")
	put("work/d/", "", "dir", "2775")
	put("work/h1", "linked", "file", "644")
	put("work/l", "a.txt", "symlink", "777")
	dir := t.TempDir()
	config := filepath.Join(dir, "filegate.toml")
	toml := fmt.Sprintf("[backend]\ntype = \"s3\"\n[backend.s3]\nbucket = %q\nprefix = \"share/\"\nendpoint = %q\npath_style = true\nregion = %q\n",
		bucket, srv.Endpoint, s3test.Region)
	if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
	line := func(path, typ, mode, size, nlink, group, data string) string {
		return strings.Join([]string{path, typ, mode, "1000", "1000", size, "1600000000.5000000000", nlink, group, data}, "\t") + "\n"
	}
	listing := filepath.Join(dir, "listing")
	text := line("work/a.txt", "f", "0640", "5", "1", "-", sum("alpha")) +
		line("work/d", "d", "02775", "-", "-", "-", "-") +
		line("work/d/h2", "f", "0644", "6", "2", "work/d/h2", sum("linked")) +
		line("work/h1", "f", "0644", "6", "2", "work/d/h2", sum("linked")) +
		line("work/l", "l", "0777", "5", "1", "-", "a.txt")
	if err := os.WriteFile(listing, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func() []string {
		t.Helper()
		want, err := readListing(listing, "work")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s3Entries(ctx, config, "work")
		if err != nil {
			t.Fatal(err)
		}
		return compare(want, got)
	}
	if p := run(); len(p) != 0 {
		t.Fatalf("problems in a matching bucket: %q", p)
	}
	put("work/a.txt", "alpha", "file", "644")
	put("work/d/x.conflict-20260101-000000", "theirs", "file", "644")
	p := strings.Join(run(), "\n")
	for _, want := range []string{"work/a.txt: mode 0644", "work/d/x.conflict-20260101-000000: in the backend but not on the share"} {
		if !strings.Contains(p, want) {
			t.Errorf("problems %q, want one with %q", p, want)
		}
	}
}
