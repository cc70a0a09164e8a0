package s3

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend"
)

// copyTries bounds how often Copy starts again because its source
// changed between the HEAD and the copy.
const copyTries = 3

// Copy implements backend.Store with CopyObject inside the bucket, or,
// for sources over 5 GiB, a multipart upload of UploadPartCopy parts.
// The metadata is always replaced (MetadataDirective REPLACE): with the
// source's, or with the source's other keys and attrs. That makes an
// in-place Copy (chmod, chown, utimes of an uploaded file) legal on S3,
// and keeps what another tool set (Content-Type, its own metadata).
// A directory marker is copied by putting an empty marker.
// The copy is pinned to the ETag the HEAD saw (x-amz-copy-source-if-
// match); if the source changes in between (412), Copy starts again,
// up to three times.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, "copy", src, dst); err != nil {
		return backend.ObjectInfo{}, err
	}
	if isMarker(src) != isMarker(dst) {
		return backend.ObjectInfo{}, fmt.Errorf("s3: copy %s to %s: one is a directory marker: %w", src, dst, backend.ErrInvalidKey)
	}
	for try := 1; ; try++ {
		h, err := s.head(ctx, src)
		if err != nil {
			return backend.ObjectInfo{}, fmt.Errorf("s3: copy %s: %w", src, err)
		}
		md := h.Metadata
		if attrs != nil {
			md = mergeMeta(h.Metadata, dst, attrs)
		}
		var tag *string
		var mod *time.Time
		switch {
		case isMarker(src):
			// A marker has no body: put a new one. S3-compatible servers
			// with real directories (versitygw) refuse to copy them.
			tag, err = s.putSingle(ctx, dst, bytesSeeker(nil), 0, md)
		case aws.ToInt64(h.ContentLength) <= MaxPartSize:
			tag, mod, err = s.copyObject(ctx, src, dst, h, md)
		default:
			tag, err = s.copyMultipart(ctx, src, dst, h, md)
		}
		if err != nil && httpStatus(err) == http.StatusPreconditionFailed && try < copyTries {
			continue
		}
		if err != nil {
			return backend.ObjectInfo{}, err
		}
		oi := backend.ObjectInfo{Key: dst, Size: aws.ToInt64(h.ContentLength), ModTime: time.Now(),
			ETag: etag(tag, md), Attrs: decodeAttrs(dst, md)}
		if mod != nil {
			oi.ModTime = *mod
		}
		return oi, nil
	}
}

// copySource is the x-amz-copy-source of key: bucket and key, with
// everything but unreserved characters and "/" percent-encoded.
func (s *Store) copySource(key string) *string {
	okey := s.objectKey(key)
	var b strings.Builder
	b.WriteString(s.cfg.Bucket)
	b.WriteByte('/')
	for i := 0; i < len(okey); i++ {
		c := okey[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-_.~/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return aws.String(b.String())
}

// storageClass is the class a copy gets: the configured one, else the
// source's, since CopyObject would otherwise make it STANDARD.
func (s *Store) storageClass(h *s3.HeadObjectOutput) types.StorageClass {
	if s.cfg.StorageClass != "" {
		return types.StorageClass(s.cfg.StorageClass)
	}
	return h.StorageClass
}

func (s *Store) copyObject(ctx context.Context, src, dst string, h *s3.HeadObjectOutput, md map[string]string) (*string, *time.Time, error) {
	sse, kms := s.sse()
	start := time.Now()
	out, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  aws.String(s.objectKey(dst)),
		CopySource:           s.copySource(src),
		CopySourceIfMatch:    h.ETag,
		MetadataDirective:    types.MetadataDirectiveReplace,
		Metadata:             md,
		ContentType:          h.ContentType,
		CacheControl:         h.CacheControl,
		ContentDisposition:   h.ContentDisposition,
		ContentEncoding:      h.ContentEncoding,
		ContentLanguage:      h.ContentLanguage,
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		StorageClass:         s.storageClass(h),
	})
	s.done("copy", dst, start, err)
	if err != nil {
		return nil, nil, wrapErr("copy "+src+" to", dst, err)
	}
	if out.CopyObjectResult == nil {
		return nil, nil, nil
	}
	return out.CopyObjectResult.ETag, out.CopyObjectResult.LastModified, nil
}

// copyMultipart copies an object over 5 GiB, the CopyObject limit, in
// parts copied inside S3.
func (s *Store) copyMultipart(ctx context.Context, src, dst string, h *s3.HeadObjectOutput, md map[string]string) (*string, error) {
	size := aws.ToInt64(h.ContentLength)
	partSize := PartSize(size, max(s.cfg.PartSize, 256<<20)) // fewer, bigger parts: no bytes pass through us
	nparts := int((size + partSize - 1) / partSize)
	okey := aws.String(s.objectKey(dst))
	sse, kms := s.sse()
	start := time.Now()
	cr, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  okey,
		Metadata:             md,
		ContentType:          h.ContentType,
		CacheControl:         h.CacheControl,
		ContentDisposition:   h.ContentDisposition,
		ContentEncoding:      h.ContentEncoding,
		ContentLanguage:      h.ContentLanguage,
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		StorageClass:         s.storageClass(h),
	})
	s.done("create-multipart", dst, start, err)
	if err != nil {
		return nil, wrapErr("copy "+src+" to", dst, err)
	}
	s.stats.multipart.Add(1)
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.UploadConcurrency)
	for i := range nparts {
		off := int64(i) * partSize
		end := min(off+partSize, size) - 1
		num := aws.Int32(int32(i + 1))
		g.Go(func() error {
			start := time.Now()
			out, err := s.client.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
				Bucket:            &s.cfg.Bucket,
				Key:               okey,
				UploadId:          cr.UploadId,
				PartNumber:        num,
				CopySource:        s.copySource(src),
				CopySourceIfMatch: h.ETag,
				CopySourceRange:   aws.String("bytes=" + strconv.FormatInt(off, 10) + "-" + strconv.FormatInt(end, 10)),
			})
			s.done("upload-part-copy", dst, start, err)
			if err != nil {
				return wrapErr("copy "+src+" to", dst, err)
			}
			p := types.CompletedPart{PartNumber: num}
			if out.CopyPartResult != nil {
				p.ETag = out.CopyPartResult.ETag
			}
			parts[i] = p
			return nil
		})
	}
	err = g.Wait()
	if err == nil {
		start = time.Now()
		var out *s3.CompleteMultipartUploadOutput
		out, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: &s.cfg.Bucket, Key: okey, UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		s.done("complete-multipart", dst, start, err)
		if err == nil {
			return out.ETag, nil
		}
		err = wrapErr("copy "+src+" to", dst, err)
	}
	s.abort(ctx, dst, okey, cr.UploadId)
	return nil, err
}
