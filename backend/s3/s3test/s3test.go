package s3test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	fs3 "github.com/filegate/filegate/backend/s3"
)

// Keys of the server's root user. They guard nothing: the server listens
// on 127.0.0.1 only and lives as long as the test.
const (
	AccessKey = "filegate-test-access"
	SecretKey = "filegate-test-secret-key"
	// Profile is the shared-credentials profile holding the keys.
	Profile = "filegate-versitygw"
	// Region is the region the server answers for.
	Region = "us-east-1"
)

// EnvBinary names the environment variable that may hold the path of
// the versitygw binary.
const EnvBinary = "FILEGATE_VERSITYGW"

// Binary returns the path of the versitygw binary, or an error saying
// where it looked and how to install it.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if isExec(p) {
			return p, nil
		}
		return "", fmt.Errorf("s3test: $%s=%s is not an executable file", EnvBinary, p)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	var dirs []string
	if gp, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(gp))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		if home, err := os.UserHomeDir(); err == nil {
			cache = filepath.Join(home, ".cache")
		}
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, "filegate-tools", "bin"))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "versitygw"); isExec(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("s3test: versitygw not found in $%s, PATH or %s; install it with "+
		"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`", EnvBinary, strings.Join(dirs, ", "))
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// Server is a running versitygw.
type Server struct {
	// Endpoint is the server's URL, such as http://127.0.0.1:40123.
	Endpoint string
	dir      string
	credFile string
	cmd      *exec.Cmd
	logPath  string
	// transport is the raw client's, closed with the server.
	transport *http.Transport
	client    *s3.Client
	buckets   atomic.Int64
	stopOnce  sync.Once
	exited    chan struct{}
}

// StartServer starts versitygw on a free port of 127.0.0.1, serving the
// folder dir (created if missing), and waits until it answers. Stop it
// with Close.
func StartServer(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	credFile := filepath.Join(dir, "credentials")
	creds := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", Profile, AccessKey, SecretKey)
	if err := os.WriteFile(credFile, []byte(creds), 0o600); err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	var last error
	// The free port may be taken between asking and binding: try again.
	for range 3 {
		s, err := start(bin, dir, data, credFile)
		if err == nil {
			return s, nil
		}
		last = err
	}
	return nil, last
}

func start(bin, dir, data, credFile string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	logf, err := os.OpenFile(filepath.Join(dir, "versitygw.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	cmd := exec.Command(bin, "--port", addr, "--quiet", "--keep-alive", "posix", data)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+AccessKey, "ROOT_SECRET_KEY="+SecretKey)
	// A file, not a pipe: no copying goroutine outlives the server, and
	// the log survives for a look after a failure.
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies without cleaning up, the server goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	started, exited := make(chan error, 1), make(chan struct{})
	go func() {
		// Pdeathsig fires when the thread that started the child ends,
		// not the process; a thread ends when a goroutine that locked it
		// returns (the cache's spare refiller may). This one is locked
		// here and ends only after the child has.
		runtime.LockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			// Reap only to notice an early exit; Close waits via the
			// channel.
			cmd.Wait()
			close(exited)
		}
	}()
	err = <-started
	// The server has its own copy; ours would count as a leaked file.
	logf.Close()
	if err != nil {
		return nil, fmt.Errorf("s3test: start %s: %w", bin, err)
	}
	s := &Server{Endpoint: "http://" + addr, dir: dir, credFile: credFile, cmd: cmd, logPath: logf.Name()}
	s.transport = http.DefaultTransport.(*http.Transport).Clone()
	s.client = s3.New(s3.Options{
		HTTPClient:   &http.Client{Transport: s.transport},
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, ""),
	})
	s.exited = exited
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-exited:
			tail, _ := os.ReadFile(logf.Name())
			return nil, fmt.Errorf("s3test: versitygw exited at start: %s", lastLines(string(tail), 5))
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond); err == nil {
			c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err = s.client.ListBuckets(ctx, &s3.ListBucketsInput{})
			cancel()
			if err == nil {
				return s, nil
			}
		}
		if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("s3test: versitygw not answering on %s after 20s", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], " | ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("s3test: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Close kills the server and waits for it to exit. The folder stays.
func (s *Server) Close() error {
	s.stopOnce.Do(func() {
		s.cmd.Process.Kill()
		<-s.exited
		// The SDK client's idle connections to the dead server.
		s.transport.CloseIdleConnections()
	})
	return nil
}

// Dir is the server's folder: data/BUCKET/KEY holds each object.
func (s *Server) Dir() string { return s.dir }

// CreateBucket makes a bucket.
func (s *Server) CreateBucket(ctx context.Context, name string) error {
	_, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return fmt.Errorf("s3test: create bucket %s: %w", name, err)
	}
	return nil
}

// Client returns a raw SDK client of the server, for checking what the
// store wrote and for baselines.
func (s *Server) Client() *s3.Client { return s.client }

// Config returns a store Config for bucket on this server; the bucket
// must exist (see CreateBucket, NewBucket).
func (s *Server) Config(bucket string) fs3.Config {
	cfg := fs3.DefaultConfig()
	cfg.Bucket = bucket
	cfg.Endpoint = s.Endpoint
	cfg.PathStyle = true
	cfg.Region = Region
	cfg.Profile = Profile
	cfg.SharedCredentialsFiles = []string{s.credFile}
	cfg.CheckTimeout = 5 * time.Second
	return cfg
}

// NewBucket creates a bucket of a new name and returns its Config.
func (s *Server) NewBucket(tb testing.TB) fs3.Config {
	tb.Helper()
	name := fmt.Sprintf("fg-test-%d-%d", os.Getpid(), s.buckets.Add(1))
	if err := s.CreateBucket(context.Background(), name); err != nil {
		tb.Fatal(err)
	}
	return s.Config(name)
}

// Open opens a store on cfg, such as a Config from NewBucket, and closes
// it at tb's cleanup.
func Open(tb testing.TB, cfg fs3.Config) *fs3.Store {
	tb.Helper()
	s, err := fs3.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// Start starts a server for one test, in a folder of tb's, and stops it
// at tb's cleanup. Without the binary it skips tb, or fails it when
// FILEGATE_TEST_NO_SKIP=1.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := StartServer(tb.TempDir())
	if err != nil {
		skipOrFail(tb, err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

func skipOrFail(tb testing.TB, err error) {
	tb.Helper()
	var missing *exec.Error
	if errors.As(err, &missing) || strings.Contains(err.Error(), "versitygw not found") {
		if os.Getenv("FILEGATE_TEST_NO_SKIP") == "1" {
			tb.Fatalf("%v (FILEGATE_TEST_NO_SKIP=1 forbids skipping)", err)
		}
		tb.Skip(err)
	}
	tb.Fatal(err)
}

var shared struct {
	mu  sync.Mutex
	srv *Server
	dir string
	err error
}

// Shared returns one server for the whole test binary, started on first
// use; tests get separate buckets with NewBucket. Call StopShared from
// TestMain after m.Run. Without the binary it skips tb, or fails it when
// FILEGATE_TEST_NO_SKIP=1.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv == nil && shared.err == nil {
		shared.dir, shared.err = os.MkdirTemp("", "filegate-versitygw-")
		if shared.err == nil {
			shared.srv, shared.err = StartServer(shared.dir)
		}
	}
	if shared.err != nil {
		skipOrFail(tb, shared.err)
	}
	return shared.srv
}

// StopShared stops the shared server, if started, and removes its folder.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.srv != nil {
		shared.srv.Close()
		shared.srv = nil
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
		shared.dir = ""
	}
}

// Object is an object as a plain S3 client sees it.
type Object struct {
	Body []byte
	// Metadata is the user metadata, names without "x-amz-meta-", as
	// the SDK returns them (lowercase).
	Metadata map[string]string
}

// GetObject reads an object with a plain GetObject, as `aws s3 cp`
// would, bypassing the store: what other tools see.
func (s *Server) GetObject(ctx context.Context, bucket, key string) (Object, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return Object{}, fmt.Errorf("s3test: get %s: %w", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		return Object{}, fmt.Errorf("s3test: get %s: %w", key, err)
	}
	return Object{Body: body, Metadata: out.Metadata}, nil
}

// Keys lists every key of the bucket with a plain ListObjectsV2.
func (s *Server) Keys(ctx context.Context, bucket string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return keys, fmt.Errorf("s3test: list %s: %w", bucket, err)
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}
