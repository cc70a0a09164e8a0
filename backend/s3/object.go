package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/filegate/filegate/backend"
)

// head is a HeadObject of key.
func (s *Store) head(ctx context.Context, key string) (*s3.HeadObjectOutput, error) {
	start := time.Now()
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
	s.done("head", key, start, err)
	if err != nil {
		return nil, wrapErr("stat", key, err)
	}
	return out, nil
}

func headInfo(key string, out *s3.HeadObjectOutput) backend.ObjectInfo {
	return backend.ObjectInfo{
		Key:     key,
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    etag(out.ETag, out.Metadata),
		Attrs:   decodeAttrs(key, out.Metadata),
	}
}

// Stat implements backend.Store. A directory marker that was never put
// but has keys below it (written by another tool) exists, with nil Attrs
// and a zero ModTime, as it would in the AWS console.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	if err := check(ctx, "stat", key); err != nil {
		return backend.ObjectInfo{}, err
	}
	out, err := s.head(ctx, key)
	if err == nil {
		return headInfo(key, out), nil
	}
	if isMarker(key) && errors.Is(err, fs.ErrNotExist) {
		start := time.Now()
		lo, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.cfg.Bucket, Prefix: aws.String(s.objectKey(key)), MaxKeys: aws.Int32(1)})
		s.done("list", key, start, lerr)
		if lerr != nil {
			return backend.ObjectInfo{}, wrapErr("stat", key, lerr)
		}
		if len(lo.Contents) > 0 {
			return backend.ObjectInfo{Key: key}, nil
		}
	}
	return backend.ObjectInfo{}, err
}

// Get implements backend.Store with a ranged GET of just the bytes asked
// for. A version named by etag is sent as If-Match with its S3 ETag (the
// part our metadata does not change, so a chmod is no new version), and
// the ETag of the answer is checked too, for servers that ignore
// If-Match.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	if err := check(ctx, "get", key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("s3: get %s: negative offset %d", key, off)
	}
	want := contentETag(etag)
	if length == 0 {
		// No Range header asks for zero bytes: check it exists.
		out, err := s.head(ctx, key)
		if err != nil {
			return nil, err
		}
		if err := checkETag(key, want, out.ETag); err != nil {
			return nil, err
		}
		return io.NopCloser(eofReader{}), nil
	}
	in := &s3.GetObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))}
	if want != "" {
		in.IfMatch = aws.String(`"` + want + `"`)
	}
	switch {
	case length > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(off+length-1, 10))
	case off > 0:
		in.Range = aws.String("bytes=" + strconv.FormatInt(off, 10) + "-")
	}
	start := time.Now()
	out, err := s.client.GetObject(ctx, in)
	s.done("get", key, start, err)
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// The object exists and the range starts at or past its end
			// (or it is empty): the contract says an empty body.
			return io.NopCloser(eofReader{}), nil
		}
		return nil, wrapErr("get", key, err)
	}
	if err := checkETag(key, want, out.ETag); err != nil {
		out.Body.Close()
		return nil, err
	}
	return &countingBody{rc: out.Body, n: &s.stats.bytesDown}, nil
}

// checkETag fails with backend.ErrChanged when an answer's ETag is not
// the S3 ETag want (none wanted: any).
func checkETag(key, want string, got *string) error {
	if want == "" || got == nil {
		return nil
	}
	if g := strings.Trim(*got, `"`); g != want {
		return fmt.Errorf("s3: get %s: holds version %s, not %s: %w", key, g, want, backend.ErrChanged)
	}
	return nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// Delete implements backend.Store. S3 deletes are idempotent already.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	start := time.Now()
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.cfg.Bucket, Key: aws.String(s.objectKey(key))})
	s.done("delete", key, start, err)
	if err != nil && !isNotFound(err) {
		return wrapErr("delete", key, err)
	}
	return nil
}
