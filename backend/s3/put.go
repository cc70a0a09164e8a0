package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/filegate/filegate/backend"
)

// abortTimeout bounds the abort of a failed multipart upload, which runs
// even when the Put's ctx is done.
const abortTimeout = 30 * time.Second

// PartSize returns the part size of a multipart upload of size bytes:
// minPart, or, when that many bytes would need more than MaxParts parts,
// size/MaxParts rounded up to a whole MiB. So a 5 TiB object goes up in
// 9,987 parts of 525 MiB.
func PartSize(size, minPart int64) int64 {
	p := minPart
	if need := (size + MaxParts - 1) / MaxParts; need > p {
		p = (need + partAlign - 1) / partAlign * partAlign
	}
	return p
}

// Put implements backend.Store. Up to Config.PartSize bytes go up in one
// PutObject; more in a multipart upload of parts sent UploadConcurrency
// at a time, read with ReadAt when r is an io.ReaderAt (the cache's
// *io.SectionReader), else read in order into pooled buffers. A failed
// multipart upload is aborted, leaving the old object in place. The
// returned ModTime is the local time of the upload (S3 answers a PUT
// without one).
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, "put", key); err != nil {
		return backend.ObjectInfo{}, err
	}
	switch {
	case size < 0:
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: negative size %d", key, size)
	case size > MaxObjectSize:
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: %d bytes is over the S3 limit of 5 TiB", key, size)
	case isMarker(key) && size != 0:
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: directory marker with a body of %d bytes", key, size)
	case isMarker(key) && attrs != nil && attrs.Mode&fs.ModeSymlink != 0:
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: directory marker with symlink mode", key)
	}
	// A body shorter than size fails here, before any request, so the
	// old object stays whole.
	end, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: %w", key, err)
	}
	if end < size {
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: body of %d bytes, want %d: %w", key, end, size, io.ErrUnexpectedEOF)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("s3: put %s: %w", key, err)
	}
	md := encodeAttrs(key, attrs)
	var tag *string
	if size <= s.cfg.PartSize {
		tag, err = s.putSingle(ctx, key, r, size, md)
	} else {
		tag, err = s.putMultipart(ctx, key, r, size, md)
	}
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	s.stats.bytesUp.Add(size)
	return backend.ObjectInfo{Key: key, Size: size, ModTime: time.Now(), ETag: etag(tag, md), Attrs: decodeAttrs(key, md)}, nil
}

// section returns the first n bytes of r as a reader the SDK can seek:
// it reads the payload once to sign it over plain HTTP, then again to
// send it.
func section(r io.ReadSeeker, off, n int64) io.ReadSeeker {
	if ra, ok := r.(io.ReaderAt); ok {
		return io.NewSectionReader(ra, off, n)
	}
	return &limitSeeker{r: r, base: off, n: n}
}

// limitSeeker is n bytes of r from base, for readers without ReadAt.
type limitSeeker struct {
	r       io.ReadSeeker
	base, n int64
	pos     int64
}

func (l *limitSeeker) Read(p []byte) (int, error) {
	if l.pos >= l.n {
		return 0, io.EOF
	}
	if rest := l.n - l.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	got, err := l.r.Read(p)
	l.pos += int64(got)
	if errors.Is(err, io.EOF) && l.pos < l.n {
		err = io.ErrUnexpectedEOF
	}
	return got, err
}

func (l *limitSeeker) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += l.pos
	case io.SeekEnd:
		off += l.n
	}
	if off < 0 || off > l.n {
		return 0, fmt.Errorf("s3: seek to %d of a %d-byte body", off, l.n)
	}
	if _, err := l.r.Seek(l.base+off, io.SeekStart); err != nil {
		return 0, err
	}
	l.pos = off
	return off, nil
}

func (s *Store) sse() (types.ServerSideEncryption, *string) {
	switch s.cfg.SSE {
	case SSES3:
		return types.ServerSideEncryptionAes256, nil
	case SSEKMS:
		if s.cfg.KMSKeyID != "" {
			return types.ServerSideEncryptionAwsKms, aws.String(s.cfg.KMSKeyID)
		}
		return types.ServerSideEncryptionAwsKms, nil
	}
	return "", nil
}

func (s *Store) putSingle(ctx context.Context, key string, r io.ReadSeeker, size int64, md map[string]string) (*string, error) {
	sse, kms := s.sse()
	start := time.Now()
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  aws.String(s.objectKey(key)),
		Body:                 section(r, 0, size),
		ContentLength:        aws.Int64(size),
		Metadata:             md,
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		StorageClass:         types.StorageClass(s.cfg.StorageClass),
	})
	s.done("put", key, start, err)
	if err != nil {
		return nil, wrapErr("put", key, err)
	}
	return out.ETag, nil
}

// checksumAlgorithm is what multipart uploads declare: with checksums
// "when supported" the SDK sends a CRC32 of every part, and S3 wants the
// upload to say so when it is created and completed.
func (s *Store) checksumAlgorithm() types.ChecksumAlgorithm {
	if s.cfg.Checksum == ChecksumWhenRequired {
		return ""
	}
	return types.ChecksumAlgorithmCrc32
}

func (s *Store) putMultipart(ctx context.Context, key string, r io.ReadSeeker, size int64, md map[string]string) (*string, error) {
	partSize := PartSize(size, s.cfg.PartSize)
	nparts := int((size + partSize - 1) / partSize)
	okey := aws.String(s.objectKey(key))
	sse, kms := s.sse()
	start := time.Now()
	cr, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket:               &s.cfg.Bucket,
		Key:                  okey,
		Metadata:             md,
		ServerSideEncryption: sse,
		SSEKMSKeyId:          kms,
		StorageClass:         types.StorageClass(s.cfg.StorageClass),
		ChecksumAlgorithm:    s.checksumAlgorithm(),
	})
	s.done("create-multipart", key, start, err)
	if err != nil {
		return nil, wrapErr("put", key, err)
	}
	s.stats.multipart.Add(1)
	id := cr.UploadId

	parts, err := s.uploadParts(ctx, key, okey, id, r, size, partSize, nparts)
	if err == nil {
		start = time.Now()
		var out *s3.CompleteMultipartUploadOutput
		out, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket:          &s.cfg.Bucket,
			Key:             okey,
			UploadId:        id,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		})
		s.done("complete-multipart", key, start, err)
		if err == nil {
			return out.ETag, nil
		}
		err = wrapErr("put", key, err)
	}
	s.abort(ctx, key, okey, id)
	return nil, err
}

// uploadParts sends the parts, UploadConcurrency at a time, and returns
// them in order for CompleteMultipartUpload.
func (s *Store) uploadParts(ctx context.Context, key string, okey, id *string, r io.ReadSeeker, size, partSize int64, nparts int) ([]types.CompletedPart, error) {
	parts := make([]types.CompletedPart, nparts)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.UploadConcurrency)
	_, readerAt := r.(io.ReaderAt)
	for i := range nparts {
		if gctx.Err() != nil {
			break
		}
		off := int64(i) * partSize
		n := min(partSize, size-off)
		var body io.ReadSeeker
		var buf *[]byte
		if readerAt {
			body = section(r, off, n)
		} else {
			// Read in order here, so at most UploadConcurrency+1
			// buffers are ever filled (g.Go waits for a free slot).
			buf = s.parts.get(n)
			if _, err := io.ReadFull(r, (*buf)[:n]); err != nil {
				s.parts.put(buf)
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				// Returning it from the group cancels the parts in flight.
				g.Go(func() error { return fmt.Errorf("s3: put %s: read part %d: %w", key, i+1, err) })
				break
			}
			body = bytesSeeker((*buf)[:n])
		}
		num := aws.Int32(int32(i + 1))
		g.Go(func() error {
			if buf != nil {
				defer s.parts.put(buf)
			}
			start := time.Now()
			// ctx, not gctx: after one part fails, the parts in flight
			// finish rather than being cut off, so none is still
			// landing on the server when the upload is aborted.
			out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket:            &s.cfg.Bucket,
				Key:               okey,
				UploadId:          id,
				PartNumber:        num,
				Body:              body,
				ContentLength:     aws.Int64(n),
				ChecksumAlgorithm: s.checksumAlgorithm(),
			})
			s.done("upload-part", key, start, err)
			if err != nil {
				return wrapErr(fmt.Sprintf("put part %d of", *num), key, err)
			}
			parts[*num-1] = types.CompletedPart{PartNumber: num, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("s3: put %s: %w", key, err)
	}
	return parts, nil
}

// abort aborts a multipart upload, even when ctx is done, so no
// incomplete upload is left to be billed. A part whose request was
// cancelled may still be landing on the server, making the abort fail or
// bringing the upload back after it (S3's docs say to abort again until
// ListParts finds nothing), so it checks and tries again a few times.
func (s *Store) abort(ctx context.Context, key string, okey, id *string) {
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	var err error
	for attempt := range 5 {
		if attempt > 0 {
			time.Sleep(time.Duration(attempt) * 50 * time.Millisecond)
		}
		start := time.Now()
		_, err = s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: &s.cfg.Bucket, Key: okey, UploadId: id})
		s.done("abort-multipart", key, start, err)
		if err != nil && !isNotFound(err) {
			continue
		}
		if _, lerr := s.client.ListParts(actx, &s3.ListPartsInput{Bucket: &s.cfg.Bucket, Key: okey, UploadId: id}); lerr != nil {
			err = nil // gone
			break
		}
		err = fmt.Errorf("upload still listed after abort")
	}
	if err != nil {
		s.log.Warn("abort of a failed multipart upload failed; the next start cleans it up", "key", key, "err", err)
		return
	}
	s.stats.aborted.Add(1)
}

func bytesSeeker(b []byte) io.ReadSeeker { return &sliceReader{b: b} }

// sliceReader is a bytes.Reader without its ReadAt, WriteTo and
// Size: just enough for an upload body.
type sliceReader struct {
	b   []byte
	pos int64
}

func (r *sliceReader) Read(p []byte) (int, error) {
	if r.pos >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.pos:])
	r.pos += int64(n)
	return n, nil
}

func (r *sliceReader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += int64(len(r.b))
	}
	if off < 0 {
		return 0, errors.New("s3: negative seek")
	}
	r.pos = off
	return off, nil
}

// partPool recycles part buffers of uploads from readers without
// ReadAt.
type partPool struct{ pool *sync.Pool }

func newPartPool() partPool { return partPool{pool: &sync.Pool{}} }

func (p partPool) get(n int64) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && int64(cap(*b)) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n)
	return &b
}

func (p partPool) put(b *[]byte) { p.pool.Put(b) }

// countingBody counts the bytes read from a GET's body.
type countingBody struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingBody) Close() error { return c.rc.Close() }
