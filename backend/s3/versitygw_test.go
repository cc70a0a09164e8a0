package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/backend/s3/s3test"
)

// roundTripper sends requests through fn, for counting and faults.
type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// onlyReader hides every method of r but Read and Seek, so Put takes
// the path for readers without ReadAt.
type onlyReader struct{ io.ReadSeeker }

func TestMultipart(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	cfg.PartSize = s3.MinPartSize
	cfg.UploadConcurrency = 3
	s := s3test.Open(t, cfg)
	ctx := t.Context()
	data := randomBytes(t, 3*s3.MinPartSize+12345) // 4 parts
	attrs := &backend.Attrs{Mode: 0o640, UID: 7, GID: 8, MTime: time.Unix(1700000000, 42)}
	for name, r := range map[string]io.ReadSeeker{
		"ReaderAt": bytes.NewReader(data),
		"Reader":   onlyReader{bytes.NewReader(data)},
	} {
		t.Run(name, func(t *testing.T) {
			key := "big/" + name
			oi, err := s.Put(ctx, key, r, int64(len(data)), attrs)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(oi.ETag, "-4") {
				t.Errorf("ETag %q is not a 4-part upload's", oi.ETag)
			}
			st, err := s.Stat(ctx, key)
			if err != nil || st.Size != int64(len(data)) || st.ETag != oi.ETag || st.Attrs == nil || st.Attrs.UID != 7 {
				t.Fatalf("Stat = %+v, %v; Put said %+v", st, err, oi)
			}
			rc, err := s.Get(ctx, key, 0, -1, "")
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Get: %d bytes, %v; want the %d put", len(got), err, len(data))
			}
			// A range across a part boundary.
			rc, err = s.Get(ctx, key, s3.MinPartSize-10, 20, "")
			if err != nil {
				t.Fatal(err)
			}
			got, _ = io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, data[s3.MinPartSize-10:s3.MinPartSize+10]) {
				t.Fatal("ranged Get across a part boundary differs")
			}
		})
	}
}

// failingReader fails once failAt bytes were read.
type failingReader struct {
	r      *bytes.Reader
	failAt int64
}

func (f *failingReader) Read(p []byte) (int, error) {
	pos, _ := f.r.Seek(0, io.SeekCurrent)
	if pos >= f.failAt {
		return 0, errors.New("disk read error")
	}
	return f.r.Read(p[:min(int64(len(p)), f.failAt-pos)])
}

func (f *failingReader) Seek(off int64, whence int) (int64, error) { return f.r.Seek(off, whence) }

// TestMultipartFault fails a multipart upload midway, by the server
// (a part answered 500) and by the reader, and checks the upload was
// aborted, no incomplete upload is left, and the old object is intact.
func TestMultipartFault(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	cfg.PartSize = s3.MinPartSize
	cfg.UploadConcurrency = 2
	var failPart atomic.Int64
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		if n := failPart.Load(); n > 0 && r.URL.Query().Get("partNumber") == strconv.FormatInt(n, 10) {
			return &http.Response{StatusCode: 500, Status: "500 Internal Server Error", Header: http.Header{},
				Body: io.NopCloser(strings.NewReader("<Error><Code>InternalError</Code></Error>")), Request: r}, nil
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	s := s3test.Open(t, cfg)
	ctx := t.Context()
	old := []byte("the old content")
	if _, err := s.Put(ctx, "f", bytes.NewReader(old), int64(len(old)), nil); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 4*s3.MinPartSize)

	failPart.Store(3)
	if _, err := s.Put(ctx, "f", bytes.NewReader(data), int64(len(data)), nil); err == nil {
		t.Fatal("Put with a failing part succeeded")
	}
	failPart.Store(0)
	r := &failingReader{r: bytes.NewReader(data), failAt: 2*s3.MinPartSize + 100}
	if _, err := s.Put(ctx, "f", r, int64(len(data)), nil); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}

	if st := s.Stats(); st.Aborted != 2 || st.MultipartUploads != 2 {
		t.Errorf("stats %+v, want 2 multipart uploads, both aborted", st)
	}
	if left, err := s.IncompleteUploads(ctx); err != nil || len(left) != 0 {
		t.Errorf("incomplete uploads after the faults: %q, %v", left, err)
	}
	rc, err := s.Get(ctx, "f", 0, -1, "")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, old) {
		t.Errorf("after failed uploads f = %q, want the old content", got)
	}
}

// TestAbortStaleUploads leaves an upload incomplete, as a crash would,
// and checks the next New aborts it.
func TestAbortStaleUploads(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	cfg.Prefix = "mine/"
	c := srv.Client()
	ctx := t.Context()
	for _, key := range []string{"mine/a", "mine/d/b", "other/c"} {
		if _, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: &cfg.Bucket, Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	// S3 gives Initiated in whole seconds: a New more than a second
	// later starts after the uploads however the server rounds. This
	// waits for the clock, not for an event.
	time.Sleep(1100 * time.Millisecond)
	s := s3test.Open(t, cfg)
	if left, err := s.IncompleteUploads(ctx); err != nil || len(left) != 0 {
		t.Errorf("incomplete uploads under the prefix after New: %q, %v", left, err)
	}
	out, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: &cfg.Bucket})
	if err != nil || len(out.Uploads) != 1 || aws.ToString(out.Uploads[0].Key) != "other/c" {
		t.Errorf("uploads outside the prefix must stay: %+v, %v", out, err)
	}
}

// TestListStreams lists a directory of many objects and checks, by
// counting requests, that the listing is fetched page by page while fn
// runs (never held whole) and that HEADs stay within StatConcurrency.
// FILEGATE_TEST_S3_LIST_N sets the count (default 5,000).
func TestListStreams(t *testing.T) {
	n := 5000
	if v, err := strconv.Atoi(os.Getenv("FILEGATE_TEST_S3_LIST_N")); err == nil && v > 0 {
		n = v
	}
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	var lists, heads, inFlight, maxInFlight atomic.Int64
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		switch {
		case r.Method == http.MethodHead:
			heads.Add(1)
			now := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := maxInFlight.Load(); now > m && !maxInFlight.CompareAndSwap(m, now); m = maxInFlight.Load() {
			}
		case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
			lists.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	s := s3test.Open(t, cfg)
	putMany(t, srv, cfg.Bucket, "big/", n)
	heads.Store(0) // New's HeadBucket
	pages := int64((n + 999) / 1000)

	seen := 0
	listsAtFirst := int64(-1)
	prev := ""
	err := s.List(t.Context(), backend.ListOptions{Prefix: "big/", Delimiter: "/"}, func(oi backend.ObjectInfo) error {
		if seen == 0 {
			listsAtFirst = lists.Load()
		}
		if oi.Key <= prev {
			return fmt.Errorf("key %q after %q", oi.Key, prev)
		}
		prev = oi.Key
		// Never more than one page ahead of fn.
		if ahead := lists.Load()*1000 - int64(seen); ahead > 1000+1000 {
			return fmt.Errorf("%d keys listed ahead of the callback", ahead)
		}
		seen++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen != n || listsAtFirst != 1 || lists.Load() != pages {
		t.Errorf("saw %d keys; %d list requests before the first, %d in all; want %d keys, 1, %d", seen, listsAtFirst, lists.Load(), n, pages)
	}
	if heads.Load() != int64(n) || maxInFlight.Load() > int64(cfg.StatConcurrency) {
		t.Errorf("%d HEADs, %d at most at once; want %d, at most %d", heads.Load(), maxInFlight.Load(), n, cfg.StatConcurrency)
	}
}

// putMany writes n small objects under prefix with the raw client,
// from 16 goroutines.
func putMany(t testing.TB, srv *s3test.Server, bucket, prefix string, n int) {
	t.Helper()
	c := srv.Client()
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < n; i += 16 {
				key := fmt.Sprintf("%sk%07d", prefix, i)
				if _, err := c.PutObject(context.Background(), &awss3.PutObjectInput{Bucket: &bucket, Key: &key,
					Body: strings.NewReader("x")}); err != nil {
					failed.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		t.Fatal(err)
	}
}

// TestStartErrors checks that New names the problem and its fix.
func TestStartErrors(t *testing.T) {
	srv := s3test.Shared(t)
	good := srv.NewBucket(t)

	badCreds := func(access, secret string) s3.Config {
		cfg := good
		f := filepath.Join(t.TempDir(), "credentials")
		os.WriteFile(f, []byte(fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", s3test.Profile, access, secret)), 0o600)
		cfg.SharedCredentialsFiles = []string{f}
		return cfg
	}
	refused := good
	refused.Endpoint = "http://" + closedAddr(t)
	silent := good
	silent.Endpoint = "http://" + silentAddr(t)
	silent.CheckTimeout = 300 * time.Millisecond
	missing := good
	missing.Bucket = "no-such-bucket"

	for _, tc := range []struct {
		name string
		cfg  s3.Config
		want []string
	}{
		{"missing bucket", missing, []string{`bucket "no-such-bucket" does not exist`, "backend.s3.bucket"}},
		{"unknown access key", badCreds("nobody", s3test.SecretKey), []string{"access key is not known", "fix the credentials"}},
		{"wrong secret", badCreds(s3test.AccessKey, "wrong"), []string{"secret key does not match", "fix the credentials"}},
		{"connection refused", refused, []string{"cannot connect to", "backend.s3.endpoint"}},
		{"no answer", silent, []string{"did not answer within 300ms", "backend.s3.endpoint"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			s, err := s3.New(context.Background(), tc.cfg)
			if err == nil {
				s.Close()
				t.Fatal("New succeeded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("New took %v to fail", d)
			}
		})
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr accepts connections and never answers.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// TestInvalidKeysSendNothing checks that a key S3 or the gateway cannot
// hold is refused before any request, so nothing is left half-written.
func TestInvalidKeysSendNothing(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	var requests atomic.Int64
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		requests.Add(1)
		return http.DefaultTransport.RoundTrip(r)
	})}
	s := s3test.Open(t, cfg)
	before := requests.Load()
	long := strings.Repeat("abcdefg/", 128) + "x"
	for _, key := range []string{long, strings.Repeat("n", 256), "a//b", "../x", "a/\x00"} {
		_, err := s.Put(t.Context(), key, strings.NewReader("v"), 1, nil)
		if !errors.Is(err, backend.ErrInvalidKey) {
			t.Errorf("Put(%.20q) = %v", key, err)
		}
	}
	if n := requests.Load() - before; n != 0 {
		t.Errorf("%d requests sent for invalid keys", n)
	}
}
