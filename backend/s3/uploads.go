package s3

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// abortStale aborts the incomplete multipart uploads under the prefix
// that were initiated before the given time: the gateway owns its prefix,
// so they are uploads of an earlier run that crashed or lost its network
// before it could abort them, and S3 bills their parts until aborted.
// It returns how many it aborted.
func (s *Store) abortStale(ctx context.Context, before time.Time) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: aws.String(s.cfg.Prefix)}
	n := 0
	for {
		start := time.Now()
		out, err := s.client.ListMultipartUploads(ctx, in)
		s.done("list-multipart", s.cfg.Prefix, start, err)
		if err != nil {
			return n, wrapErr("list incomplete uploads under", s.cfg.Prefix, err)
		}
		for _, u := range out.Uploads {
			if u.Initiated != nil && !u.Initiated.Before(before) {
				continue
			}
			start := time.Now()
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.cfg.Bucket, Key: u.Key, UploadId: u.UploadId})
			s.done("abort-multipart", aws.ToString(u.Key), start, err)
			if err != nil && !isNotFound(err) {
				return n, wrapErr("abort incomplete upload of", aws.ToString(u.Key), err)
			}
			n++
		}
		if !aws.ToBool(out.IsTruncated) {
			return n, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}

// IncompleteUploads returns the keys of the multipart uploads under the
// prefix that are neither completed nor aborted, for tests and admin.
func (s *Store) IncompleteUploads(ctx context.Context) ([]string, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.cfg.Bucket, Prefix: aws.String(s.cfg.Prefix)}
	var keys []string
	for {
		out, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return keys, wrapErr("list incomplete uploads under", s.cfg.Prefix, err)
		}
		for _, u := range out.Uploads {
			keys = append(keys, aws.ToString(u.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			return keys, nil
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
}
