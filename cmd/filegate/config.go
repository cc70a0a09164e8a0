package main

import (
	_ "embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/s3"
	"github.com/filegate/filegate/cache"
)

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
	// own backend and cache; they replace the
	// top-level export ([backend] and server.export_name, squash,
	// anonuid, anongid, clients, read_only, secure). None: that single
	// export.
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

// LoadConfig reads the TOML file at path over DefaultConfig and validates
// the result. It rejects keys the Config does not have, naming them, and
// reports syntax and type errors with their line number. It only reads
// path: nothing is created on disk.
func LoadConfig(path string) (Config, error) {
	cfg, err := decodeConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, attributeErrors(err, func(string) string { return path })
	}
	return cfg, nil
}

// decodeConfigFile is LoadConfig without Validate, for callers that apply
// overrides (command-line flags) before validating.
func decodeConfigFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// The *PathError already names the file.
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := decodeConfig(string(data))
	if err != nil {
		return Config{}, fileError(path, err)
	}
	return cfg, nil
}

// fileError says that err, a decodeConfig error, is about the config
// file path: a *FieldError names it as its source, any other error is
// prefixed with it.
func fileError(path string, err error) error {
	all := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		all = j.Unwrap()
	}
	out := make([]error, len(all))
	for i, e := range all {
		if fe, ok := e.(*FieldError); ok {
			fe.Source = path
			out[i] = fe
		} else {
			out[i] = fmt.Errorf("config: %s: %w", path, e)
		}
	}
	if len(out) == 1 {
		return out[0]
	}
	return errors.Join(out...)
}

// removedKeys are config keys that no longer exist, with what to do
// about them: a file that sets one is refused with that advice rather
// than as an unknown key.
var removedKeys = map[string]string{
	"server.frontend": "the go-nfs front end was removed and filegate always serves NFS with its own server " +
		`(what frontend = "nfsd" chose): delete the line`,
}

// rawValue is the value of key k in the TOML text, as text.
func rawValue(text string, k toml.Key) string {
	var raw map[string]any
	if _, err := toml.Decode(text, &raw); err != nil {
		return ""
	}
	var v any = raw
	for _, part := range k {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[part]
	}
	return fmt.Sprint(v)
}

// decodeConfig decodes TOML text over DefaultConfig, rejecting unknown keys.
func decodeConfig(text string) (Config, error) {
	cfg := DefaultConfig()
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		// toml.ParseError's message carries the line and the key.
		return Config{}, err
	}
	var errs []error
	var keys []string
	for _, k := range md.Undecoded() {
		if want, ok := removedKeys[k.String()]; ok {
			errs = append(errs, &FieldError{Key: k.String(), Value: rawValue(text, k), Want: want})
			continue
		}
		keys = append(keys, k.String())
	}
	if len(keys) > 0 {
		noun := "key"
		if len(keys) > 1 {
			noun = "keys"
		}
		errs = append(errs, fmt.Errorf("unknown %s %s (see `filegate help config` for the keys)",
			noun, strings.Join(keys, ", ")))
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	def := DefaultConfig()
	for i := range cfg.Exports {
		x := &cfg.Exports[i]
		if x.Squash == "" {
			x.Squash = def.Server.Squash
		}
		if x.AnonUID == nil {
			x.AnonUID = &def.Server.AnonUID
		}
		if x.AnonGID == nil {
			x.AnonGID = &def.Server.AnonGID
		}
		if x.Backend.Type == "" {
			x.Backend.Type = def.Backend.Type
		}
		b, d := &x.Backend.S3, def.Backend.S3
		if b.Checksum == "" {
			b.Checksum = d.Checksum
		}
		if b.PartSize == 0 {
			b.PartSize = d.PartSize
		}
		if b.UploadConcurrency == 0 {
			b.UploadConcurrency = d.UploadConcurrency
		}
		if b.StatConcurrency == 0 {
			b.StatConcurrency = d.StatConcurrency
		}
	}
	return cfg, nil
}

// FieldError is a Validate failure for one config key.
type FieldError struct {
	// Key is the TOML key, such as "server.listen".
	Key string
	// Value is the offending value as text.
	Value string
	// Want says what would be accepted, and so how to fix it.
	Want string
	// Source, if set, says where the value came from: a config file path
	// or a command-line flag such as "--listen".
	Source string
}

// Error formats e as `config: KEY "VALUE" (from SOURCE): WANT`.
func (e *FieldError) Error() string {
	src := ""
	if e.Source != "" {
		src = " (from " + e.Source + ")"
	}
	return fmt.Sprintf("config: %s %q%s: %s", e.Key, e.Value, src, e.Want)
}

// Validate reports every invalid value in c, one *FieldError per key,
// joined with errors.Join. It does not touch the disk.
func (c Config) Validate() error {
	var errs []error
	bad := func(key, value, want string) {
		errs = append(errs, &FieldError{Key: key, Value: value, Want: want})
	}

	if err := checkHostPort(c.Server.Listen); err != nil {
		bad("server.listen", c.Server.Listen, err.Error())
	}
	if c.Server.StateDir == "" {
		bad("server.state_dir", c.Server.StateDir, `want a directory such as "/var/lib/filegate"`)
	} else if strings.ContainsRune(c.Server.StateDir, 0) {
		bad("server.state_dir", c.Server.StateDir, "want a path without NUL bytes")
	}
	if e := c.Server.ExportName; e == "" || e[0] != '/' || path.Clean(e) != e || strings.ContainsRune(e, 0) {
		bad("server.export_name", e, `want a clean absolute path such as "/"`)
	}
	switch c.Server.Squash {
	case "root", "none", "all":
	default:
		bad("server.squash", c.Server.Squash, `want "root", "none" or "all"`)
	}
	if _, err := c.ClientPrefixes(); err != nil {
		bad("server.clients", err.Error(), `want networks such as ["10.0.0.0/24", "192.168.1.7"]`)
	}

	errs = append(errs, c.Backend.validate("")...)
	errs = append(errs, c.validateExports()...)

	if c.Cache.UploadDelay < 0 {
		bad("cache.upload_delay", c.Cache.UploadDelay.String(), `want a duration of zero or more such as "2s"`)
	}
	if !c.Cache.DefaultFileMode.valid() {
		bad("cache.default_file_mode", c.Cache.DefaultFileMode.String(), `want an octal mode up to "7777" such as "0644"`)
	}
	if !c.Cache.DefaultDirMode.valid() {
		bad("cache.default_dir_mode", c.Cache.DefaultDirMode.String(), `want an octal mode up to "7777" such as "0755"`)
	}
	if c.Cache.Size < 64<<20 {
		bad("cache.size", c.Cache.Size.String(), `want at least "64MiB", such as "100GiB"`)
	}
	if !(c.Cache.HighWater > 0 && c.Cache.HighWater <= 1) {
		bad("cache.high_water", strconv.FormatFloat(c.Cache.HighWater, 'g', -1, 64), "want a fraction of cache.size in (0, 1] such as 0.9")
	}
	if !(c.Cache.LowWater > 0 && c.Cache.LowWater < c.Cache.HighWater) {
		bad("cache.low_water", strconv.FormatFloat(c.Cache.LowWater, 'g', -1, 64), "want a fraction of cache.size below cache.high_water such as 0.8")
	}
	if c.Cache.DirtyLimit < 0 {
		bad("cache.dirty_limit", c.Cache.DirtyLimit.String(), `want a size such as "8GiB", or "0" for no limit`)
	}
	if c.Cache.ReadAhead < 0 {
		bad("cache.read_ahead", c.Cache.ReadAhead.String(), `want a size such as "8MiB", or "0" for none`)
	}
	if c.Cache.FetchConcurrency < 1 || c.Cache.FetchConcurrency > 256 {
		bad("cache.fetch_concurrency", strconv.Itoa(c.Cache.FetchConcurrency), "want 1 to 256")
	}
	if c.Cache.UploadConcurrency < 1 || c.Cache.UploadConcurrency > 256 {
		bad("cache.upload_concurrency", strconv.Itoa(c.Cache.UploadConcurrency), "want 1 to 256")
	}
	if c.Cache.DirTTL < 0 {
		bad("cache.dir_ttl", c.Cache.DirTTL.String(), `want a duration such as "1m", or "0s" to list each directory once`)
	}
	if c.Cache.SyncInterval < 0 {
		bad("cache.sync_interval", c.Cache.SyncInterval.String(), `want "0s" (fsync every write) or a duration such as "100ms"`)
	}

	if c.Metrics.Listen != "" {
		if err := checkHostPort(c.Metrics.Listen); err != nil {
			bad("metrics.listen", c.Metrics.Listen, `want "" (off) or `+err.Error()[len("want "):]+` such as "127.0.0.1:9477"`)
		}
	}
	for i, l := range c.Limits {
		if _, err := limit.ParseRule(l.Days, l.Hours, int64(l.Upload), int64(l.Download)); err != nil {
			key := fmt.Sprintf("limits[%d]", i+1)
			switch {
			case strings.Contains(err.Error(), "days"):
				bad(key+".days", l.Days, strings.TrimPrefix(err.Error(), "limit: "))
			default:
				bad(key+".hours", l.Hours, strings.TrimPrefix(err.Error(), "limit: "))
			}
		}
	}

	if !slices.Contains(logLevels, c.Log.Level) {
		bad("log.level", c.Log.Level, "want one of "+quoteList(logLevels))
	}
	if !slices.Contains(logFormats, c.Log.Format) {
		bad("log.format", c.Log.Format, `want "" (automatic), "json" or "text"`)
	}
	return errors.Join(errs...)
}

// validate checks a [backend] table; prefix goes before its keys
// ("exports[1].").
func (b BackendConfig) validate(prefix string) []error {
	var errs []error
	switch b.Type {
	case BackendPOSIX:
	case BackendS3:
		errs = append(errs, b.validateS3(prefix)...)
	default:
		errs = append(errs, &FieldError{Key: prefix + "backend.type", Value: b.Type, Want: `want "posix" or "s3"`})
	}
	if strings.ContainsRune(b.Path, 0) {
		errs = append(errs, &FieldError{Key: prefix + "backend.path", Value: b.Path, Want: "want a path without NUL bytes"})
	}
	return errs
}

// validateExports checks [[exports]]: no top-level export keys beside
// them, and each table.
func (c Config) validateExports() []error {
	if len(c.Exports) == 0 {
		return nil
	}
	var errs []error
	bad := func(key, value, want string) {
		errs = append(errs, &FieldError{Key: key, Value: value, Want: want})
	}
	def := DefaultConfig()
	moved := `[[exports]] replaces the top-level export: set this key in each [[exports]] table instead`
	if c.Server.ExportName != def.Server.ExportName {
		bad("server.export_name", c.Server.ExportName, moved)
	}
	if c.Server.Squash != def.Server.Squash {
		bad("server.squash", c.Server.Squash, moved)
	}
	if c.Server.AnonUID != def.Server.AnonUID {
		bad("server.anonuid", strconv.FormatUint(uint64(c.Server.AnonUID), 10), moved)
	}
	if c.Server.AnonGID != def.Server.AnonGID {
		bad("server.anongid", strconv.FormatUint(uint64(c.Server.AnonGID), 10), moved)
	}
	if len(c.Server.Clients) > 0 {
		bad("server.clients", strings.Join(c.Server.Clients, ","), moved)
	}
	if c.Server.ReadOnly {
		bad("server.read_only", "true", moved)
	}
	if c.Server.Secure {
		bad("server.secure", "true", moved)
	}
	if !reflect.DeepEqual(c.Backend, def.Backend) {
		bad("backend", backendName(c), `[[exports]] replaces the top-level [backend]: give each [[exports]] table its own backend instead`)
	}
	names := map[string]int{}
	ids := map[uint32]int{}
	for i, x := range c.Exports {
		key := fmt.Sprintf("exports[%d].", i+1)
		if e := x.Name; e == "" || e[0] != '/' || path.Clean(e) != e || strings.ContainsRune(e, 0) {
			bad(key+"name", e, `want a clean absolute path such as "/office"`)
		} else if j, dup := names[e]; dup {
			bad(key+"name", e, fmt.Sprintf("exports[%d] has this name too: want a name of its own", j))
		} else if j, dup := ids[exportID(e)]; dup {
			bad(key+"name", e, fmt.Sprintf("its export id collides with exports[%d]'s (%q): want another name", j, c.Exports[j-1].Name))
		} else {
			names[e], ids[exportID(e)] = i+1, i+1
		}
		switch x.Squash {
		case "root", "none", "all":
		default:
			bad(key+"squash", x.Squash, `want "root", "none" or "all"`)
		}
		if _, err := clientPrefixes(x.Clients); err != nil {
			bad(key+"clients", err.Error(), `want networks such as ["10.0.0.0/24", "192.168.1.7"]`)
		}
		errs = append(errs, x.Backend.validate(key)...)
	}
	return errs
}

// exportID is the file handle export id of the [[exports]] named name: a
// hash of the name, so it stays when exports are added, removed or
// reordered (the single top-level export keeps id 1).
func exportID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// ExportUnit is one export as served: a Config whose [server] export
// keys, [backend] and server.state_dir are the export's (its cache is
// STATE_DIR/cache of that Config), and its handle export id.
type ExportUnit struct {
	Config Config
	ID     uint32
}

// Absolute returns c with the state folder and every backend path made
// absolute against the working directory, as the documentation of
// server.state_dir promises; the stores take absolute paths only.
func (c Config) Absolute() (Config, error) {
	abs := func(key string, p *string) error {
		if *p == "" || filepath.IsAbs(*p) {
			return nil
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("config: %s %q: %w", key, *p, err)
		}
		*p = a
		return nil
	}
	if err := abs("server.state_dir", &c.Server.StateDir); err != nil {
		return c, err
	}
	if err := abs("backend.path", &c.Backend.Path); err != nil {
		return c, err
	}
	c.Exports = slices.Clone(c.Exports)
	for i := range c.Exports {
		if err := abs(fmt.Sprintf("exports[%d].backend.path", i+1), &c.Exports[i].Backend.Path); err != nil {
			return c, err
		}
	}
	return c, nil
}

// ExportUnits returns the exports to serve: the top-level export as it
// always was (id 1, cache in server.state_dir/cache) when there is no
// [[exports]], else one per table, whose state folder is
// STATE_DIR/exports/NAME (NAME path-escaped, "/" as %2F).
func (c Config) ExportUnits() []ExportUnit {
	if len(c.Exports) == 0 {
		return []ExportUnit{{Config: c, ID: 1}}
	}
	out := make([]ExportUnit, len(c.Exports))
	for i, x := range c.Exports {
		u := c
		u.Exports = nil
		u.Backend = x.Backend
		u.Server.StateDir = filepath.Join(c.Server.StateDir, "exports", exportFolder(x.Name))
		u.Server.ExportName, u.Server.Squash, u.Server.Clients = x.Name, x.Squash, x.Clients
		u.Server.ReadOnly, u.Server.Secure = x.ReadOnly, x.Secure
		if x.AnonUID != nil {
			u.Server.AnonUID = *x.AnonUID
		}
		if x.AnonGID != nil {
			u.Server.AnonGID = *x.AnonGID
		}
		out[i] = ExportUnit{Config: u, ID: exportID(x.Name)}
	}
	return out
}

// exportFolder names the state folder of export name: "/office" is
// "office", "/a/b" "a%2Fb", "/" "%2F"; no two names share one.
func exportFolder(name string) string {
	if name == "/" {
		return url.PathEscape("/")
	}
	return url.PathEscape(strings.TrimPrefix(name, "/"))
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

// s3Keys maps the fields of s3.Config the file sets to their keys.
var s3Keys = map[string]string{
	"Bucket": "backend.s3.bucket", "Prefix": "backend.s3.prefix", "Region": "backend.s3.region",
	"Endpoint": "backend.s3.endpoint", "Profile": "backend.s3.profile", "SSE": "backend.s3.sse",
	"KMSKeyID": "backend.s3.kms_key_id", "StorageClass": "backend.s3.storage_class",
	"Checksum": "backend.s3.checksum", "PartSize": "backend.s3.part_size",
	"UploadConcurrency": "backend.s3.upload_concurrency", "StatConcurrency": "backend.s3.stat_concurrency",
}

// validateS3 checks [backend.s3] with backend/s3's own rules, naming
// the keys (after prefix).
func (bc BackendConfig) validateS3(prefix string) []error {
	var out []error
	err := bc.s3Config().Validate()
	if err == nil {
		return nil
	}
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *s3.ConfigError
		if !errors.As(e, &ce) {
			out = append(out, e)
			continue
		}
		key, ok := s3Keys[ce.Field]
		if !ok {
			out = append(out, e)
			continue
		}
		value, want := ce.Value, ce.Want
		switch ce.Field {
		case "Bucket":
			if value == "" {
				want = `want the name of the bucket, such as "office-files" (backend.type is "s3")`
			}
		case "PartSize":
			value = bc.S3.PartSize.String()
			want = `want a size from "5MiB" to "5GiB" such as "16MiB"`
		}
		out = append(out, &FieldError{Key: prefix + key, Value: value, Want: want})
	}
	return out
}

var (
	logLevels  = []string{"debug", "info", "warn", "error"}
	logFormats = []string{"", "json", "text"}
)

func quoteList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = strconv.Quote(w)
	}
	return strings.Join(q, ", ")
}

// checkHostPort accepts HOST:PORT where HOST is empty (every interface), an
// IP address or a host name, and PORT is a number up to 65535. Port 0 picks
// a free port, which is useful only in tests.
func checkHostPort(s string) error {
	const want = "want HOST:PORT such as 127.0.0.1:2049"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return errors.New(want)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || strconv.FormatUint(n, 10) != port {
		return errors.New(want + " (PORT is a number up to 65535)")
	}
	if host == "" || net.ParseIP(host) != nil {
		return nil
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return errors.New(want + " (HOST is an IP address or a host name)")
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return errors.New(want + " (HOST is an IP address or a host name)")
			}
		}
	}
	return nil
}

// attributeErrors sets Source on every *FieldError in err (a single error or
// an errors.Join) for which source(key) is not empty, and returns err.
func attributeErrors(err error, source func(key string) string) error {
	var walk func(error)
	walk = func(e error) {
		if fe, ok := e.(*FieldError); ok {
			if s := source(fe.Key); s != "" {
				fe.Source = s
			}
			return
		}
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
		}
	}
	walk(err)
	return err
}

// Duration is a time.Duration written in the config as a Go duration
// string such as "2s", "500ms" or "1m30s". A bare number is rejected rather
// than read as nanoseconds.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText formats d like time.Duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf(`want a duration such as "2s" or "500ms", got %q`, b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalTOML accepts only a TOML string, parsed by UnmarshalText.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`want a quoted duration such as "2s", got %v`, v)
	}
	return d.UnmarshalText([]byte(s))
}

// Size is a byte count, written in the config as a quoted string with a
// binary unit, such as "16MiB", "512KiB" or "1GiB", or as a bare number
// of bytes.
type Size int64

var sizeUnits = []struct {
	suffix string
	bytes  int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// String formats s in the largest unit that divides it.
func (s Size) String() string {
	for _, u := range sizeUnits {
		if s != 0 && int64(s)%u.bytes == 0 {
			return strconv.FormatInt(int64(s)/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText formats s like String.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses "16MiB", "16 MiB", "512KiB", "1GiB", "100B" or
// "4096".
func (s *Size) UnmarshalText(b []byte) error {
	text := strings.TrimSpace(string(b))
	mult := int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(text, u.suffix); ok {
			text, mult = strings.TrimSpace(n), u.bytes
			break
		}
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil || v < 0 || v > (1<<62)/mult {
		return fmt.Errorf(`want a size such as "16MiB", "512KiB" or "1GiB", got %q`, b)
	}
	*s = Size(v * mult)
	return nil
}

// UnmarshalTOML accepts a quoted size, or a bare number of bytes.
func (s *Size) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		return s.UnmarshalText([]byte(x))
	case int64:
		if x < 0 {
			return fmt.Errorf(`want a size such as "16MiB", got %d`, x)
		}
		*s = Size(x)
		return nil
	}
	return fmt.Errorf(`want a size such as "16MiB", got %v`, v)
}

// Mode is a Unix permission mode (permission bits plus setuid 04000,
// setgid 02000 and sticky 01000), written in the config as a quoted octal
// string such as "0644". A bare number is rejected: TOML would read 0644 as
// decimal.
type Mode uint32

// String formats m as four octal digits, such as "0644".
func (m Mode) String() string { return fmt.Sprintf("%04o", uint32(m)) }

// MarshalText formats m as four octal digits.
func (m Mode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses an octal mode such as "0644", "644" or "0o644".
func (m *Mode) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimPrefix(string(b), "0o"), "0O")
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return fmt.Errorf(`want an octal mode such as "0644", got %q`, b)
	}
	*m = Mode(v)
	return nil
}

// UnmarshalTOML accepts only a TOML string, parsed by UnmarshalText.
func (m *Mode) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		return fmt.Errorf(`want a quoted octal mode such as "0644", got %v`, v)
	}
	return m.UnmarshalText([]byte(s))
}

func (m Mode) valid() bool { return m <= 0o7777 }

// FileMode converts m to an fs.FileMode: the permission bits, with the Unix
// setuid, setgid and sticky bits mapped to fs.ModeSetuid, fs.ModeSetgid and
// fs.ModeSticky.
func (m Mode) FileMode() fs.FileMode {
	fm := fs.FileMode(m) & fs.ModePerm
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}
