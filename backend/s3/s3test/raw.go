package s3test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Raw is a plain SDK client of the server, as an application using the
// SDK directly would have, with a connection pool for conns parallel
// requests: the baseline that benchmarks compare the store with.
type Raw struct {
	c  *s3.Client
	tr *http.Transport
}

// Raw returns a raw client; Close it when done.
func (s *Server) Raw(conns int) *Raw {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conns*2, conns*2
	return &Raw{tr: tr, c: s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: tr},
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
		// The defaults of config.LoadDefaultConfig, which a bare
		// s3.Options leaves unset (and so skips validating GET bodies).
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	})}
}

// Close closes the client's idle connections.
func (r *Raw) Close() { r.tr.CloseIdleConnections() }

// Put is one PutObject of body.
func (r *Raw) Put(ctx context.Context, bucket, key string, body []byte) error {
	_, err := r.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body)))})
	return err
}

// PutMultipart uploads body in parts of partSize, concurrency at once,
// as the SDK's documentation shows.
func (r *Raw) PutMultipart(ctx context.Context, bucket, key string, body []byte, partSize int64, concurrency int) error {
	cr, err := r.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: &key,
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		return err
	}
	n := (int64(len(body)) + partSize - 1) / partSize
	parts := make([]types.CompletedPart, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(concurrency)
	for i := range n {
		g.Go(func() error {
			part := body[i*partSize : min((i+1)*partSize, int64(len(body)))]
			out, err := r.c.UploadPart(gctx, &s3.UploadPartInput{Bucket: &bucket, Key: &key, UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part))),
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
			if err != nil {
				return err
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		r.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: cr.UploadId})
		return err
	}
	_, err = r.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: &key, UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	return err
}

// Get reads length bytes at off (length < 0: to the end) into w.
func (r *Raw) Get(ctx context.Context, bucket, key string, off, length int64, w io.Writer) (int64, error) {
	in := &s3.GetObjectInput{Bucket: &bucket, Key: &key}
	if off > 0 || length >= 0 {
		rng := "bytes=" + strconv.FormatInt(off, 10) + "-"
		if length >= 0 {
			rng += strconv.FormatInt(off+length-1, 10)
		}
		in.Range = &rng
	}
	out, err := r.c.GetObject(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("get %s: %w", key, err)
	}
	defer out.Body.Close()
	return io.Copy(w, out.Body)
}
