package s3_test

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/s3/s3test"
)

// TestVersitygwHonoursIfMatch: the test server answers a GET whose
// If-Match names another ETag with 412, as S3 does, so the conformance
// suite's GetVersion tests If-Match itself there, not only Get's check
// of the answer's ETag (which covers servers that ignore If-Match).
func TestVersitygwHonoursIfMatch(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	s := s3test.Open(t, cfg)
	ctx := t.Context()
	mustPutBody(t, s, "k", "body")
	_, err := srv.Client().GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(cfg.Bucket), Key: aws.String("k"), IfMatch: aws.String(`"0123456789abcdef0123456789abcdef"`)})
	var re *awshttp.ResponseError
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusPreconditionFailed {
		t.Fatalf("GET with another ETag in If-Match: %v; want 412 (versitygw ignores If-Match: Get then relies on its check of the answer's ETag alone)", err)
	}
}

// TestGetChecksTheAnswersETag: Get of a version sends its S3 ETag as
// If-Match, and fails with ErrChanged on an answer of another ETag even
// from a server that ignores If-Match (played here by a transport that
// turns the 412 into the object's current version).
func TestGetChecksTheAnswersETag(t *testing.T) {
	srv := s3test.Shared(t)
	cfg := srv.NewBucket(t)
	var mu sync.Mutex
	var sent []string
	ignore := false
	var now string // the object's current S3 ETag, quoted
	cfg.HTTPClient = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		get := r.Method == http.MethodGet && r.URL.Query().Get("list-type") == ""
		mu.Lock()
		if get {
			sent = append(sent, r.Header.Get("If-Match"))
		}
		ignoring := ignore
		mu.Unlock()
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil || !get || !ignoring || resp.StatusCode != http.StatusPreconditionFailed {
			return resp, err
		}
		resp.Body.Close()
		body := "version two"
		return &http.Response{
			StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Etag": {now}, "Content-Length": {strconv.Itoa(len(body))},
				"Content-Type": {"binary/octet-stream"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r,
		}, nil
	})}
	s := s3test.Open(t, cfg)
	ctx := t.Context()
	one := mustPutBody(t, s, "k", "version one")
	two := mustPutBody(t, s, "k", "version two")
	now = `"` + two.ETag + `"`
	for _, ignored := range []bool{false, true} {
		mu.Lock()
		ignore, sent = ignored, nil
		mu.Unlock()
		rc, err := s.Get(ctx, "k", 0, -1, one.ETag)
		if err == nil {
			rc.Close()
		}
		if !errors.Is(err, backend.ErrChanged) {
			t.Errorf("Get of an overwritten version (If-Match ignored: %v) = %v, want ErrChanged", ignored, err)
		}
		mu.Lock()
		if len(sent) != 1 || sent[0] != `"`+one.ETag+`"` {
			t.Errorf("If-Match sent %q for ETag %q, want it quoted", sent, one.ETag)
		}
		mu.Unlock()
	}
	// With our metadata, the ETag carries its hash; If-Match has the S3
	// part alone.
	attrs := &backend.Attrs{Mode: 0o600}
	three, err := s.Put(ctx, "m", strings.NewReader("x"), 1, attrs)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	ignore, sent = false, nil
	mu.Unlock()
	rc, err := s.Get(ctx, "m", 0, -1, three.ETag)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	mu.Lock()
	defer mu.Unlock()
	if i := strings.LastIndexByte(three.ETag, ':'); i < 0 || len(sent) != 1 || sent[0] != `"`+three.ETag[:i]+`"` {
		t.Errorf("If-Match sent %q for ETag %q, want its S3 part, quoted", sent, three.ETag)
	}
}

func mustPutBody(t *testing.T, s backend.Store, key, body string) backend.ObjectInfo {
	t.Helper()
	oi, err := s.Put(t.Context(), key, strings.NewReader(body), int64(len(body)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return oi
}
