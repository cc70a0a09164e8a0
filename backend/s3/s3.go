package s3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"

	"github.com/filegate/filegate/backend"
)

var _ backend.Store = (*Store)(nil)

// Server-side encryption modes accepted in Config.SSE.
const (
	SSENone = ""    // the bucket's default encryption
	SSES3   = "s3"  // SSE-S3 (AES256, keys managed by S3)
	SSEKMS  = "kms" // SSE-KMS, with Config.KMSKeyID or the aws/s3 key
)

// Checksum modes accepted in Config.Checksum: when the SDK computes
// request checksums and validates response checksums. S3-compatible
// servers differ in what they accept.
const (
	ChecksumWhenSupported = "when_supported"
	ChecksumWhenRequired  = "when_required"
)

// Limits of S3 multipart uploads.
const (
	MinPartSize   = 5 << 20 // smallest part but the last
	MaxPartSize   = 5 << 30 // largest part, and largest single PUT
	MaxParts      = 10000   // most parts in one upload
	MaxObjectSize = 5 << 40 // 5 TiB
	partAlign     = 1 << 20 // computed part sizes are whole MiB
	maxListPage   = 1000    // most keys one ListObjectsV2 page returns
	defaultRegion = "us-east-1"
)

// Config configures a Store.
type Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Prefix is prepended to every key: "" (the whole bucket) or a path
	// ending in "/" such as "office/". The gateway owns everything under
	// it, including incomplete multipart uploads.
	Prefix string
	// Region is the bucket's region. Empty: the SDK's default chain
	// (AWS_REGION, the profile), else us-east-1.
	Region string
	// Endpoint is the URL of an S3-compatible server or a VPC interface
	// endpoint, such as "http://127.0.0.1:7070". Empty: Amazon S3.
	Endpoint string
	// PathStyle addresses the bucket as ENDPOINT/BUCKET rather than
	// BUCKET.ENDPOINT; most S3-compatible servers need it.
	PathStyle bool
	// Profile selects a profile of the shared config and credentials
	// files. Empty: the default chain's choice (AWS_PROFILE, "default").
	Profile string
	// SharedCredentialsFiles replaces the shared credentials files the
	// default chain reads (~/.aws/credentials). Tests use it to point at a
	// local server's keys without touching the environment.
	SharedCredentialsFiles []string
	// SSE is the server-side encryption of objects written: SSENone,
	// SSES3 or SSEKMS. KMSKeyID is the KMS key for SSEKMS; empty means
	// the account's aws/s3 key.
	SSE      string
	KMSKeyID string
	// StorageClass of objects written, such as "STANDARD_IA"; empty is
	// the bucket's default (STANDARD).
	StorageClass string
	// Checksum is ChecksumWhenSupported or ChecksumWhenRequired.
	Checksum string
	// PartSize is the smallest part of a multipart upload, and the size
	// above which a file is uploaded in parts. Files so big that 10,000
	// parts of PartSize would not hold them get bigger parts (whole MiB).
	PartSize int64
	// UploadConcurrency is how many parts of one upload are sent at once.
	UploadConcurrency int
	// StatConcurrency is how many objects of a listing are read (HEAD)
	// at once for their metadata, which ListObjectsV2 does not return.
	StatConcurrency int
	// ListPageSize is the most keys asked for per ListObjectsV2 page
	// (1..1000).
	ListPageSize int
	// CheckTimeout bounds the bucket check and the cleanup of incomplete
	// uploads in New, so a dead endpoint fails the start promptly.
	CheckTimeout time.Duration
	// HTTPClient, if set, sends every request (it must then carry any
	// custom CA itself); default: a client with a connection pool sized
	// for the concurrency above.
	HTTPClient *http.Client
	// Logger gets a Debug line per request and Info/Warn lines from New.
	Logger *slog.Logger
}

// DefaultConfig returns a Config with every field but Bucket set.
func DefaultConfig() Config {
	return Config{
		Checksum:          ChecksumWhenSupported,
		PartSize:          16 << 20,
		UploadConcurrency: 4,
		StatConcurrency:   16,
		ListPageSize:      maxListPage,
		CheckTimeout:      15 * time.Second,
		Logger:            slog.New(slog.DiscardHandler),
	}
}

// ConfigError is a Validate failure of one Config field.
type ConfigError struct {
	Field string // the Config field, such as "PartSize"
	Value string // the bad value, as text
	Want  string // what would be accepted
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("s3: %s %q: %s", e.Field, e.Value, e.Want)
}

// Validate reports every problem with cfg, one *ConfigError per field,
// joined with errors.Join.
func (cfg Config) Validate() error {
	var errs []error
	bad := func(field string, value any, want string) {
		errs = append(errs, &ConfigError{Field: field, Value: fmt.Sprint(value), Want: want})
	}
	if err := checkBucketName(cfg.Bucket); err != nil {
		bad("Bucket", cfg.Bucket, err.Error())
	}
	if err := checkPrefix(cfg.Prefix); err != nil {
		bad("Prefix", cfg.Prefix, err.Error())
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			bad("Endpoint", cfg.Endpoint, "want a URL such as https://s3.example.com or http://127.0.0.1:7070, without user info")
		}
	}
	switch cfg.SSE {
	case SSENone, SSES3:
		if cfg.KMSKeyID != "" {
			bad("KMSKeyID", cfg.KMSKeyID, fmt.Sprintf("a KMS key needs SSE %q: set it, or clear the key", SSEKMS))
		}
	case SSEKMS:
	default:
		bad("SSE", cfg.SSE, fmt.Sprintf("want %q (the bucket's default), %q (SSE-S3) or %q (SSE-KMS)", SSENone, SSES3, SSEKMS))
	}
	if cfg.StorageClass != "" && !slices.Contains(StorageClasses(), cfg.StorageClass) {
		bad("StorageClass", cfg.StorageClass, "want \"\" (the bucket's default) or one of "+strings.Join(StorageClasses(), ", "))
	}
	switch cfg.Checksum {
	case ChecksumWhenSupported, ChecksumWhenRequired:
	default:
		bad("Checksum", cfg.Checksum, fmt.Sprintf("want %q or %q (for servers that reject checksums)", ChecksumWhenSupported, ChecksumWhenRequired))
	}
	if cfg.PartSize < MinPartSize || cfg.PartSize > MaxPartSize {
		bad("PartSize", cfg.PartSize, "want 5 MiB to 5 GiB")
	}
	if cfg.UploadConcurrency < 1 || cfg.UploadConcurrency > 64 {
		bad("UploadConcurrency", cfg.UploadConcurrency, "want 1 to 64")
	}
	if cfg.StatConcurrency < 1 || cfg.StatConcurrency > 256 {
		bad("StatConcurrency", cfg.StatConcurrency, "want 1 to 256")
	}
	if cfg.ListPageSize < 1 || cfg.ListPageSize > maxListPage {
		bad("ListPageSize", cfg.ListPageSize, fmt.Sprintf("want 1 to %d", maxListPage))
	}
	if cfg.CheckTimeout <= 0 {
		bad("CheckTimeout", cfg.CheckTimeout, "want more than zero")
	}
	if cfg.Logger == nil {
		bad("Logger", "nil", "want a logger")
	}
	return errors.Join(errs...)
}

// checkBucketName applies the S3 bucket naming rules that matter for
// addressing: 3 to 63 lowercase letters, digits, '.' and '-'.
func checkBucketName(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return errors.New("want a bucket name of 3 to 63 characters")
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return errors.New("want lowercase letters, digits, '.' and '-' only")
		}
	}
	if b[0] == '.' || b[0] == '-' || b[len(b)-1] == '.' || b[len(b)-1] == '-' {
		return errors.New("want a bucket name that begins and ends with a letter or digit")
	}
	return nil
}

// checkPrefix accepts "" or a key of directories ending in "/".
func checkPrefix(p string) error {
	if p == "" {
		return nil
	}
	if !strings.HasSuffix(p, "/") {
		return errors.New(`want "" or a path ending in "/" such as "office/"`)
	}
	if err := backend.ValidateKey(p); err != nil {
		return errors.New(`want a path of valid names ending in "/" such as "office/"`)
	}
	if len(p) > backend.MaxKeyBytes/2 {
		return fmt.Errorf("want at most %d bytes, leaving room for the keys", backend.MaxKeyBytes/2)
	}
	return nil
}

// StorageClasses lists the storage classes Config.StorageClass accepts.
func StorageClasses() []string {
	var out []string
	for _, c := range types.StorageClass("").Values() {
		out = append(out, string(c))
	}
	return out
}

// Store is a backend.Store on one bucket and prefix.
type Store struct {
	cfg      Config
	client   *s3.Client
	http     idleCloser
	log      *slog.Logger
	endpoint string // for messages: the endpoint URL, or "Amazon S3 (REGION)"
	parts    partPool
	stats    stats
}

// Stats counts the store's requests and bytes since New. Heads and
// Lists count the HeadObject and ListObjectsV2 requests among Requests:
// what a directory listing costs.
type Stats struct {
	Requests, RequestErrors   int64
	Heads, Lists              int64
	BytesUp, BytesDown        int64
	MultipartUploads, Aborted int64
}

type stats struct {
	requests, requestErrors atomic.Int64
	heads, lists            atomic.Int64
	bytesUp, bytesDown      atomic.Int64
	multipart, aborted      atomic.Int64
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Requests: s.stats.requests.Load(), RequestErrors: s.stats.requestErrors.Load(),
		Heads: s.stats.heads.Load(), Lists: s.stats.lists.Load(),
		BytesUp: s.stats.bytesUp.Load(), BytesDown: s.stats.bytesDown.Load(),
		MultipartUploads: s.stats.multipart.Load(), Aborted: s.stats.aborted.Load(),
	}
}

// New connects to the bucket: it loads the SDK configuration (region,
// credentials) from the default chain, checks within cfg.CheckTimeout that
// the bucket exists and the credentials may use it, with a message naming
// the problem and its fix when not, and aborts incomplete multipart
// uploads under the prefix that were initiated before now.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	s := &Store{cfg: cfg, log: cfg.Logger}
	opts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithHTTPClient(newHTTPClient(cfg)),
		// One attempt per call: backend/retry is the only retry layer.
		awsconfig.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
		// The SDK logs to stderr on its own (checksum notes at debug);
		// requests are logged through Config.Logger instead.
		awsconfig.WithLogger(logging.Nop{}),
	}
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(cfg.Profile))
	}
	if len(cfg.SharedCredentialsFiles) > 0 {
		opts = append(opts, awsconfig.WithSharedCredentialsFiles(cfg.SharedCredentialsFiles))
	}
	if cfg.Checksum == ChecksumWhenRequired {
		opts = append(opts,
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired))
	} else {
		opts = append(opts,
			awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenSupported),
			awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenSupported))
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	defer cancel()
	awsCfg, err := awsconfig.LoadDefaultConfig(lctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3: load AWS configuration (environment, ~/.aws/config, profile %q): %w", cfg.Profile, err)
	}
	// Take the transport the chain configured (custom CA included) into
	// a client of our own, to hold the very pool the requests use and
	// close it in Close: the SDK's frozen client hides it.
	if b, ok := awsCfg.HTTPClient.(*awshttp.BuildableClient); ok {
		tr := b.GetTransport()
		awsCfg.HTTPClient = &http.Client{Transport: tr, CheckRedirect: noRedirect}
		s.http = tr
	}
	if cfg.HTTPClient != nil {
		awsCfg.HTTPClient = cfg.HTTPClient
		s.http = cfg.HTTPClient
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	s.endpoint = cfg.Endpoint
	if s.endpoint == "" {
		s.endpoint = "Amazon S3 (" + awsCfg.Region + ")"
	}
	s.client = s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.PathStyle
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	s.parts = newPartPool()

	if err := s.checkBucket(lctx); err != nil {
		s.Close()
		return nil, err
	}
	n, err := s.abortStale(lctx, start)
	switch {
	case err != nil:
		s.log.Warn("could not clean up incomplete multipart uploads; they stay until the next start or a bucket lifecycle rule removes them",
			"key", cfg.Prefix, "err", err)
	case n > 0:
		s.log.Info("aborted incomplete multipart uploads left by an earlier run", "key", cfg.Prefix, "count", n)
	}
	s.log.Info("S3 backend ready", "bucket", cfg.Bucket, "key", cfg.Prefix, "endpoint", s.endpoint,
		"region", awsCfg.Region, "dur", time.Since(start))
	return s, nil
}

// newHTTPClient is the SDK's buildable client (so the default chain can
// still apply a custom CA bundle, AWS_CA_BUNDLE) with a pool that keeps a
// connection for every concurrent request the store makes, since Go's
// default of 2 idle connections per host would reconnect on most
// parallel requests.
func newHTTPClient(cfg Config) *awshttp.BuildableClient {
	conns := max(cfg.UploadConcurrency, cfg.StatConcurrency) * 4
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = conns
		t.MaxIdleConnsPerHost = conns
		t.IdleConnTimeout = 90 * time.Second
		// S3 speaks HTTP/1.1; one h2 connection would carry every part.
		t.ForceAttemptHTTP2 = false
		// A server that took a request but never answers must not hold
		// an upload slot forever. The body is sent by then, so this does
		// not limit how long a big part may take to send.
		t.ResponseHeaderTimeout = 2 * time.Minute
	}).WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second })
}

type idleCloser interface{ CloseIdleConnections() }

// noRedirect hands a redirect to the SDK as the answer: S3 redirects
// mean a wrong region or endpoint, which the SDK reports.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Close releases idle connections. The store must not be used after.
func (s *Store) Close() error {
	if s.http != nil {
		s.http.CloseIdleConnections()
	}
	return nil
}

// objectKey is the object key of a backend key.
func (s *Store) objectKey(key string) string { return s.cfg.Prefix + key }

// check validates keys and ctx before any request, so a key S3 (or the
// gateway) cannot hold never leaves anything half-written in the bucket.
func check(ctx context.Context, op string, keys ...string) error {
	for _, k := range keys {
		if err := backend.ValidateKey(k); err != nil {
			return fmt.Errorf("s3: %s: %w", op, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("s3: %s: %w", op, err)
	}
	return nil
}

// done records a request's outcome for Stats and the debug log.
func (s *Store) done(op, key string, start time.Time, err error) {
	s.stats.requests.Add(1)
	switch op {
	case "head":
		s.stats.heads.Add(1)
	case "list":
		s.stats.lists.Add(1)
	}
	if err != nil {
		s.stats.requestErrors.Add(1)
	}
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("s3 request", "op", op, "key", key, "dur", time.Since(start), "err", err)
	}
}
