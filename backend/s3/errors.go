package s3

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/filegate/filegate/backend"
)

// notExistError marks an SDK error as fs.ErrNotExist without replacing
// it, so the request ID stays in the chain for errors.As.
type notExistError struct{ err error }

func (e notExistError) Error() string   { return e.err.Error() }
func (e notExistError) Unwrap() []error { return []error{e.err, fs.ErrNotExist} }

// httpStatus is the HTTP status of a response error, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// errorCode is the S3 error code ("NoSuchKey", "SlowDown", ...), or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// isNotFound reports a missing object. A missing bucket is not a missing
// object: treating it as one would make every file look deleted.
func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	code := errorCode(err)
	if code == "NoSuchBucket" {
		return false
	}
	return code == "NoSuchKey" || code == "NotFound" || httpStatus(err) == http.StatusNotFound
}

// wrapErr adds the op and key to an SDK error, marking missing objects
// and failed preconditions (If-Match: another version).
func wrapErr(op, key string, err error) error {
	switch {
	case isNotFound(err):
		err = notExistError{err}
	case httpStatus(err) == http.StatusPreconditionFailed || errorCode(err) == "PreconditionFailed":
		err = changedError{err}
	}
	return fmt.Errorf("s3: %s %s: %w", op, key, err)
}

// changedError marks an SDK error as backend.ErrChanged without
// replacing it.
type changedError struct{ err error }

func (e changedError) Error() string   { return e.err.Error() }
func (e changedError) Unwrap() []error { return []error{e.err, backend.ErrChanged} }

// checkBucket makes sure the bucket is there and ours to use, turning
// the usual mistakes into a message that names the problem and the fix.
func (s *Store) checkBucket(ctx context.Context) error {
	start := time.Now()
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.cfg.Bucket})
	s.done("head-bucket", s.cfg.Bucket, start, err)
	if err == nil {
		return nil
	}
	if st := httpStatus(err); st >= 400 && st < 500 {
		// A HEAD has no body, so no error code: a listing tells a wrong
		// key from a wrong secret from a policy that denies us, and
		// from a missing bucket (versitygw answers an unknown key's HEAD
		// with 404).
		_, lerr := s.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: &s.cfg.Bucket, Prefix: &s.cfg.Prefix, MaxKeys: aws.Int32(1)})
		if lerr != nil {
			err = lerr
		}
	}
	return s.describeStartError(err)
}

// describeStartError explains an error of the bucket check.
func (s *Store) describeStartError(err error) error {
	b, ep := s.cfg.Bucket, s.endpoint
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch code, status := errorCode(err), httpStatus(err); {
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound": // the latter: versitygw, with a 404
		return fmt.Errorf("s3: the access key is not known at %s: fix the credentials (AWS_ACCESS_KEY_ID, the profile in ~/.aws/credentials, or the instance role) (%w)", ep, err)
	case code == "SignatureDoesNotMatch":
		return fmt.Errorf("s3: the secret key does not match the access key at %s: fix the credentials (AWS_SECRET_ACCESS_KEY or the profile in ~/.aws/credentials) (%w)", ep, err)
	case code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "InvalidToken":
		return fmt.Errorf("s3: the session token is expired or invalid at %s: refresh the credentials (aws sso login, or a new AWS_SESSION_TOKEN) (%w)", ep, err)
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == http.StatusMovedPermanently:
		region := ""
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.Response != nil {
			region = re.Response.Header.Get("X-Amz-Bucket-Region")
		}
		if region != "" {
			return fmt.Errorf("s3: bucket %q is in region %s: set backend.s3.region = %q (%w)", b, region, region, err)
		}
		return fmt.Errorf("s3: bucket %q is in another region than the one configured: set backend.s3.region (%w)", b, err)
	case code == "NoSuchBucket" || status == http.StatusNotFound:
		return fmt.Errorf("s3: bucket %q does not exist at %s: create it or fix backend.s3.bucket (%w)", b, ep, err)
	case code == "AccessDenied" || status == http.StatusForbidden:
		return fmt.Errorf("s3: access to bucket %q at %s is denied: grant these credentials s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload on it, or fix the credentials (%w)", b, ep, err)
	case errors.As(err, &dnsErr):
		return fmt.Errorf("s3: cannot resolve the endpoint host of %s: fix backend.s3.endpoint or the DNS (%w)", ep, err)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return fmt.Errorf("s3: cannot connect to %s: check backend.s3.endpoint, that the server is running, and the network (%w)", ep, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("s3: %s did not answer within %v: check backend.s3.endpoint and the network (%w)", ep, s.cfg.CheckTimeout, err)
	case isCredentialsError(err):
		return fmt.Errorf("s3: no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, configure a profile (aws configure, backend.s3.profile), or run with an instance role (%w)", err)
	}
	return fmt.Errorf("s3: cannot use bucket %q at %s (%w)", b, ep, err)
}

// isCredentialsError reports a failure to find credentials before any
// request was sent. The SDK has no error type for it; the request never
// got a response, and the error chain carries no network error.
func isCredentialsError(err error) bool {
	var oe *smithy.OperationError
	var ne net.Error
	return errors.As(err, &oe) && httpStatus(err) == 0 && !errors.As(err, &ne) && !errors.Is(err, context.Canceled)
}
