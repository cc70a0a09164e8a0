package main

import (
	"errors"
	"fmt"
	"net"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/filegate/filegate/backend/limit"
	"github.com/filegate/filegate/backend/s3"
)

// Validation of a decoded Config: one *FieldError per bad key.

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
