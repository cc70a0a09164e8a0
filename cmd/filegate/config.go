package main

import (
	_ "embed"
	"errors"
	"net/netip"
	"path/filepath"
	"time"

	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/cache"
)

// The configuration file's schema and defaults, and what its tables
// become for the packages (S3, limit schedule, client networks).
// Decoding is in configdecode.go, validation in configvalidate.go,
// [[exports]] expansion in configexports.go, the unit types in
// configunits.go.

// ExampleConfig is the annotated example configuration file. It documents
// every key with its default value; `make install` copies it to
// /etc/filegate/filegate.toml and `filegate help config` prints it.
//
//go:embed filegate.example.toml
var ExampleConfig string

// Config is the daemon's configuration file, decoded from TOML. Keys in the
// file are the snake_case names in the struct tags; keys the file leaves
// out keep their DefaultConfig value.
type Config struct {
	Server  ServerConfig  `toml:"server"`
	Backend BackendConfig `toml:"backend"`
	Cache   CacheConfig   `toml:"cache"`
	Log     LogConfig     `toml:"log"`
	Metrics MetricsConfig `toml:"metrics"`
	// Limits is the bandwidth schedule, [[limits]] tables; the first
	// rule matching the gateway's local time applies, none: no limit.
	Limits []LimitConfig `toml:"limits"`
	// Exports, [[exports]] tables, are several exports, each with its
	// own backend and cache; they replace the top-level export
	// ([backend] and server.export_name, squash, anonuid, anongid,
	// clients, read_only, secure). None: that single export.
	Exports []ExportConfig `toml:"exports"`
}

// ExportConfig is one [[exports]] table. decodeConfig fills in the
// defaults of the keys a table leaves out: squash "root", anonuid and
// anongid 65534, backend.type "posix" and [backend.s3]'s defaults.
type ExportConfig struct {
	// Name is the path clients mount, such as "/office".
	Name string `toml:"name"`
	// Backend is the export's own store, as the top-level [backend];
	// a posix backend without a path is STATE_DIR/exports/NAME/backend.
	Backend BackendConfig `toml:"backend"`
	// Squash, AnonUID, AnonGID, Clients, ReadOnly and Secure are the
	// export's options, as the [server] keys of the same names.
	Squash   string   `toml:"squash"`
	AnonUID  *uint32  `toml:"anonuid"`
	AnonGID  *uint32  `toml:"anongid"`
	Clients  []string `toml:"clients"`
	ReadOnly bool     `toml:"read_only"`
	Secure   bool     `toml:"secure"`
}

// MetricsConfig is the [metrics] table.
type MetricsConfig struct {
	// Listen is the HOST:PORT of the Prometheus endpoint (/metrics);
	// empty: off.
	Listen string `toml:"listen"`
}

// LimitConfig is one [[limits]] table: a bandwidth rule.
type LimitConfig struct {
	// Days such as "mon-fri" or "sat,sun"; empty: every day.
	Days string `toml:"days"`
	// Hours such as "08:00-18:00" (local time; "22:00-06:00" crosses
	// midnight); empty: all day.
	Hours string `toml:"hours"`
	// Upload and Download are bytes per second; "0": no limit.
	Upload   Size `toml:"upload"`
	Download Size `toml:"download"`
}

// ServerConfig is the [server] table: where and what the NFS server serves.
type ServerConfig struct {
	// Listen is the TCP HOST:PORT that NFS and MOUNT share.
	Listen string `toml:"listen"`
	// StateDir holds everything the daemon keeps on local disk: the
	// cache, and the embedded POSIX backend unless backend.path is set.
	StateDir string `toml:"state_dir"`
	// ExportName is the path clients mount (server:/ExportName) of the
	// top-level export; Config.Exports has several.
	ExportName string `toml:"export_name"`
	// Squash is the identity mapping: "root" (root_squash, the
	// default), "none" or "all".
	Squash string `toml:"squash"`
	// AnonUID and AnonGID are the identity of squashed and AUTH_NONE
	// callers.
	AnonUID uint32 `toml:"anonuid"`
	AnonGID uint32 `toml:"anongid"`
	// Clients lists the networks (CIDRs such as "10.0.0.0/24", or single
	// addresses) allowed to mount and call; empty: everyone.
	Clients []string `toml:"clients"`
	// ReadOnly refuses every change.
	ReadOnly bool `toml:"read_only"`
	// Secure requires clients' source ports below 1024.
	Secure bool `toml:"secure"`
	// Portmap answers portmapper (rpcbind v2) calls on port 111 of the
	// listen address, or registers with the rpcbind running there, so
	// clients mount without port options.
	Portmap bool `toml:"portmap"`
}

// BackendConfig is the [backend] table: the cloud side of the cache.
type BackendConfig struct {
	// Type is the kind of store: "posix" or "s3".
	Type string `toml:"type"`
	// Path is the root folder of a posix backend. Empty means
	// StateDir/backend (see Config.BackendPath).
	Path string `toml:"path"`
	// S3 configures the s3 backend.
	S3 S3Config `toml:"s3"`
}

// S3Config is the [backend.s3] table. Credentials are not here: they
// come from the AWS SDK's default chain (environment, ~/.aws, SSO,
// instance role), so no secret is ever in the config file.
type S3Config struct {
	// Bucket is the bucket's name; required with backend.type "s3".
	Bucket string `toml:"bucket"`
	// Prefix is "" (the whole bucket) or a path ending in "/"; the
	// gateway owns everything under it.
	Prefix string `toml:"prefix"`
	// Region of the bucket; empty: AWS_REGION or the profile's.
	Region string `toml:"region"`
	// Endpoint is the URL of an S3-compatible server or a VPC endpoint;
	// empty: Amazon S3.
	Endpoint string `toml:"endpoint"`
	// PathStyle addresses ENDPOINT/BUCKET instead of BUCKET.ENDPOINT.
	PathStyle bool `toml:"path_style"`
	// Profile of ~/.aws/config and ~/.aws/credentials; empty: AWS_PROFILE
	// or "default".
	Profile string `toml:"profile"`
	// SSE is "" (the bucket's default), "s3" (SSE-S3) or "kms" (SSE-KMS
	// with KMSKeyID, or the account's aws/s3 key when that is empty).
	SSE      string `toml:"sse"`
	KMSKeyID string `toml:"kms_key_id"`
	// StorageClass of the objects written; empty: the bucket's default.
	StorageClass string `toml:"storage_class"`
	// Checksum is "when_supported" or "when_required".
	Checksum string `toml:"checksum"`
	// PartSize is the smallest part of a multipart upload, and the size
	// above which files are uploaded in parts.
	PartSize Size `toml:"part_size"`
	// UploadConcurrency is how many parts of one file go up at once.
	UploadConcurrency int `toml:"upload_concurrency"`
	// StatConcurrency is how many objects of a listing are read (HEAD)
	// at once, for their metadata, the first time a folder is listed.
	StatConcurrency int `toml:"stat_concurrency"`
}

// CacheConfig is the [cache] table.
type CacheConfig struct {
	// UploadDelay is how long a file must stay unchanged before it is
	// uploaded to the backend.
	UploadDelay Duration `toml:"upload_delay"`
	// DefaultFileMode and DefaultDirMode are the permission bits of backend
	// objects that carry no POSIX attributes.
	DefaultFileMode Mode `toml:"default_file_mode"`
	DefaultDirMode  Mode `toml:"default_dir_mode"`
	// DefaultUID and DefaultGID own backend objects that carry no POSIX
	// attributes.
	DefaultUID uint32 `toml:"default_uid"`
	DefaultGID uint32 `toml:"default_gid"`
	// Size bounds the file contents kept on the cache disk; past
	// HighWater of it the least recently used clean files are evicted
	// down to LowWater.
	Size      Size    `toml:"size"`
	HighWater float64 `toml:"high_water"`
	LowWater  float64 `toml:"low_water"`
	// DirtyLimit bounds data awaiting upload; past it writes fail with
	// "no space" until uploads drain.
	DirtyLimit Size `toml:"dirty_limit"`
	// ReadAhead is fetched ahead of sequential readers.
	ReadAhead Size `toml:"read_ahead"`
	// FetchConcurrency and UploadConcurrency bound parallel backend
	// transfers.
	FetchConcurrency  int `toml:"fetch_concurrency"`
	UploadConcurrency int `toml:"upload_concurrency"`
	// DirTTL is how long a directory listing from the backend is
	// trusted before it is refreshed in the background.
	DirTTL Duration `toml:"dir_ttl"`
	// SyncInterval batches the fsync of written data: 0 fsyncs every
	// WRITE before replying.
	SyncInterval Duration `toml:"sync_interval"`
}

// LogConfig is the [log] table.
type LogConfig struct {
	// Level is the least severe level logged: debug, info, warn or error.
	Level string `toml:"level"`
	// Format is "json", "text", or "" for automatic: text without
	// timestamps under journald (JOURNAL_STREAM set), else text.
	Format string `toml:"format"`
}

// Backend types accepted in backend.type.
const (
	BackendPOSIX = "posix"
	BackendS3    = "s3"
)

// DefaultConfig returns the configuration used for every key a config file
// leaves out. It passes Validate.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{
			Listen:     "127.0.0.1:2049",
			StateDir:   "./filegate-data",
			ExportName: "/",
			Squash:     "root",
			AnonUID:    65534,
			AnonGID:    65534,
			Clients:    []string{},
			Portmap:    true,
		},
		Backend: BackendConfig{
			Type: BackendPOSIX,
			S3: S3Config{
				Checksum:          s3.ChecksumWhenSupported,
				PartSize:          Size(s3.DefaultConfig().PartSize),
				UploadConcurrency: s3.DefaultConfig().UploadConcurrency,
				StatConcurrency:   s3.DefaultConfig().StatConcurrency,
			},
		},
		Cache: CacheConfig{
			UploadDelay:       Duration(2 * time.Second),
			DefaultFileMode:   0o644,
			DefaultDirMode:    0o755,
			Size:              Size(cache.DefaultConfig().MaxBytes),
			HighWater:         cache.DefaultConfig().HighWater,
			LowWater:          cache.DefaultConfig().LowWater,
			DirtyLimit:        Size(cache.DefaultConfig().DirtyLimitBytes),
			ReadAhead:         Size(cache.DefaultConfig().ReadAheadBytes),
			FetchConcurrency:  cache.DefaultConfig().FetchConcurrency,
			UploadConcurrency: cache.DefaultConfig().UploadConcurrency,
			DirTTL:            Duration(cache.DefaultConfig().DirTTL),
		},
		Log: LogConfig{
			Level: "info",
		},
	}
}

// BackendPath returns the root folder of the posix backend: backend.path,
// or StateDir/backend when that is empty.
func (c Config) BackendPath() string {
	if c.Backend.Path != "" {
		return c.Backend.Path
	}
	return filepath.Join(c.Server.StateDir, "backend")
}

// ClientPrefixes parses server.clients: CIDRs, or single addresses taken
// as one-address networks. The error names the first bad entry.
func (c Config) ClientPrefixes() ([]netip.Prefix, error) {
	return clientPrefixes(c.Server.Clients)
}

func clientPrefixes(clients []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range clients {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, errors.New(s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Schedule returns the bandwidth schedule of [[limits]]; call it on a
// validated Config.
func (c Config) Schedule() limit.Schedule {
	var s limit.Schedule
	for _, l := range c.Limits {
		r, err := limit.ParseRule(l.Days, l.Hours, int64(l.Upload), int64(l.Download))
		if err == nil {
			s = append(s, r)
		}
	}
	return s
}

// S3 returns the backend/s3 configuration of [backend.s3]; the logger
// and the settings the file does not expose keep their defaults.
func (c Config) S3() s3.Config { return c.Backend.s3Config() }

func (bc BackendConfig) s3Config() s3.Config {
	b := bc.S3
	sc := s3.DefaultConfig()
	sc.Bucket, sc.Prefix, sc.Region, sc.Endpoint, sc.PathStyle = b.Bucket, b.Prefix, b.Region, b.Endpoint, b.PathStyle
	sc.Profile, sc.SSE, sc.KMSKeyID, sc.StorageClass = b.Profile, b.SSE, b.KMSKeyID, b.StorageClass
	sc.Checksum, sc.PartSize, sc.UploadConcurrency = b.Checksum, int64(b.PartSize), b.UploadConcurrency
	sc.StatConcurrency = b.StatConcurrency
	return sc
}
