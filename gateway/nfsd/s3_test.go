package nfsd

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"

	"github.com/filegate/filegate/backend/s3/s3test"
)

// TestS3TreeReadsBackWithPlainGets: a tree written over NFS, flushed,
// reads back byte for byte with plain S3 GETs of the objects, carrying
// the documented metadata; and a fresh cache over the bucket serves it
// again.
func TestS3TreeReadsBackWithPlainGets(t *testing.T) {
	e := newEnv(t, withS3)
	big := make([]byte, 6<<20+12345) // over the 5 MiB part size: a multipart upload
	for i := range big {
		big[i] = byte(i * 7 / 3)
	}
	files := map[string][]byte{
		"top.txt":            []byte("hello from NFS\n"),
		"docs/report.txt":    bytes.Repeat([]byte("quarterly "), 5000),
		"docs/empty":         {},
		"docs/sub/deep.bin":  {0, 1, 2, 255, '\n'},
		"media/big.bin":      big,
		"name with spaces ü": []byte("unicode and spaces"),
	}
	for _, d := range []string{"docs", "docs/sub", "media"} {
		_, err := e.target.Mkdir(d, 0o750)
		must(t, err)
	}
	for p, data := range files {
		e.writeFile(p, data)
	}
	must(t, e.target.Symlink("../top.txt", "docs/link"))
	fh := e.lookupPath("docs/report.txt")
	mtime := time.Date(2020, 2, 3, 4, 5, 6, 7000, time.UTC)
	_, err := e.target.SetAttr(fh, nfsc.Sattr3{
		Mode:  nfsc.SetMode{SetIt: true, Mode: 0o640},
		UID:   nfsc.SetUID{SetIt: true, UID: 1234},
		GID:   nfsc.SetUID{SetIt: true, UID: 567},
		Mtime: nfsc.SetTime{SetIt: nfsc.SetToClientTime, Time: nfsc.NFS3Time{Seconds: uint32(mtime.Unix()), Nseconds: uint32(mtime.Nanosecond())}},
	})
	must(t, err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	must(t, e.cache.Flush(ctx))
	srv, bucket := s3test.Shared(t), e.s3cfg.Bucket

	keys, err := srv.Keys(ctx, bucket)
	must(t, err)
	want := []string{"docs/", "docs/empty", "docs/link", "docs/report.txt", "docs/sub/", "docs/sub/deep.bin",
		"media/", "media/big.bin", "name with spaces ü", "top.txt"}
	if !slices.Equal(keys, want) {
		t.Errorf("bucket keys\n got %q\nwant %q", keys, want)
	}

	// check compares an object's body and metadata with what NFS says.
	check := func(key string, body []byte, typ string) {
		t.Helper()
		obj, err := srv.GetObject(ctx, bucket, key)
		if err != nil {
			t.Error(err)
			return
		}
		if !bytes.Equal(obj.Body, body) {
			t.Errorf("%s: body of %d bytes differs from the %d written", key, len(obj.Body), len(body))
		}
		p := key
		if typ == "dir" {
			p = key[:len(key)-1]
		}
		a, err := e.target.Getattr(p)
		if err != nil {
			t.Error(err)
			return
		}
		md := obj.Metadata
		wantMD := map[string]string{
			"filegate-type":  typ,
			"filegate-mode":  strconv.FormatUint(uint64(a.FileMode&0o7777), 8),
			"filegate-uid":   strconv.FormatUint(uint64(a.UID), 10),
			"filegate-gid":   strconv.FormatUint(uint64(a.GID), 10),
			"filegate-mtime": strconv.FormatInt(a.ModTime().UnixNano(), 10),
		}
		if typ == "dir" {
			// The cache uploads a directory's marker when it is made and
			// on chmod/chown/utimes, not when entries made inside it move
			// its mtime, so the marker keeps the mkdir-time mtime.
			if _, err := strconv.ParseInt(md["filegate-mtime"], 10, 64); err != nil {
				t.Errorf("%s: x-amz-meta-filegate-mtime = %q", key, md["filegate-mtime"])
			}
			delete(wantMD, "filegate-mtime")
		}
		for k, v := range wantMD {
			if md[k] != v {
				t.Errorf("%s: x-amz-meta-%s = %q, want %q (all: %v)", key, k, md[k], v, md)
			}
		}
	}
	for p, data := range files {
		check(p, data, "file")
	}
	for _, d := range []string{"docs/", "docs/sub/", "media/"} {
		check(d, nil, "dir")
	}
	check("docs/link", []byte("../top.txt"), "symlink")
	if obj, _ := srv.GetObject(ctx, bucket, "docs/report.txt"); obj.Metadata["filegate-mode"] != "640" ||
		obj.Metadata["filegate-uid"] != "1234" || obj.Metadata["filegate-mtime"] != fmt.Sprint(mtime.UnixNano()) {
		t.Errorf("chmod/chown/utimes not in the object's metadata: %v", obj.Metadata)
	}

	// And back: a fresh cache over the same bucket lists and reads the
	// tree from S3 alone.
	e.stop()
	e.cacheDir = t.TempDir()
	e.start()
	for p, data := range files {
		if got := e.readFile(p); !bytes.Equal(got, data) {
			t.Errorf("%s through a fresh cache: %d bytes, want %d", p, len(got), len(data))
		}
	}
	if a, err := e.target.Getattr("docs/report.txt"); err != nil || a.FileMode&0o7777 != 0o640 || a.UID != 1234 || !a.ModTime().Equal(mtime) {
		t.Errorf("attributes through a fresh cache: %+v, %v", a, err)
	}
}
