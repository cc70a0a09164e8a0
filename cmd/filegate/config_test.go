package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// configKeys lists every key of Config as "table.key" (or
// "table.subtable.key"), from the struct tags.
func configKeys(t testing.TB) []string {
	t.Helper()
	var keys []string
	var walk func(prefix string, st reflect.Type)
	walk = func(prefix string, st reflect.Type) {
		for i := range st.NumField() {
			f := st.Field(i)
			name := prefix + f.Tag.Get("toml")
			if f.Type.Kind() == reflect.Struct {
				walk(name+".", f.Type)
			} else {
				keys = append(keys, name)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
	return keys
}

func writeFile(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "filegate.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfig(t *testing.T) {
	full := `
[server]
listen = "0.0.0.0:12049"
state_dir = "/var/lib/filegate"
export_name = "/office"
[backend]
type = "posix"
path = "/mnt/efs/filegate"
[cache]
upload_delay = "1m30s"
default_file_mode = "0600"
default_dir_mode = "2775"
default_uid = 1000
default_gid = 100
size = "2TiB"
high_water = 0.95
low_water = 0.5
dirty_limit = "100GiB"
read_ahead = "16MiB"
fetch_concurrency = 16
upload_concurrency = 8
dir_ttl = "5m"
sync_interval = "100ms"
[log]
level = "debug"
format = "json"
`
	fullWant := Config{
		Server: ServerConfig{Listen: "0.0.0.0:12049", StateDir: "/var/lib/filegate", ExportName: "/office", Squash: "root",
			AnonUID: 65534, AnonGID: 65534, Clients: []string{}, Portmap: true},
		Backend: BackendConfig{Type: "posix", Path: "/mnt/efs/filegate", S3: DefaultConfig().Backend.S3},
		Cache: CacheConfig{UploadDelay: Duration(90 * time.Second), DefaultFileMode: 0o600,
			DefaultDirMode: 0o2775, DefaultUID: 1000, DefaultGID: 100,
			Size: 2 << 40, HighWater: 0.95, LowWater: 0.5, DirtyLimit: 100 << 30, ReadAhead: 16 << 20,
			FetchConcurrency: 16, UploadConcurrency: 8, DirTTL: Duration(5 * time.Minute),
			SyncInterval: Duration(100 * time.Millisecond)},
		Log: LogConfig{Level: "debug", Format: "json"},
	}
	partialWant := DefaultConfig()
	partialWant.Server.Listen = ":2049"
	partialWant.Cache.UploadDelay = 0

	tests := []struct {
		name string
		text string
		want Config
		// errs, if any, must all appear in the error message.
		errs []string
	}{
		{name: "full file", text: full, want: fullWant},
		{name: "empty file is the defaults", text: "", want: DefaultConfig()},
		{name: "partial file keeps defaults", text: "[server]\nlisten = \":2049\"\n[cache]\nupload_delay = \"0s\"\n", want: partialWant},
		{name: "mode forms", text: "[cache]\ndefault_file_mode = \"644\"\ndefault_dir_mode = \"0o1777\"\n",
			want: func() Config { c := DefaultConfig(); c.Cache.DefaultDirMode = 0o1777; return c }()},
		{name: "ipv6 and host name listen", text: "[server]\nlisten = \"[::1]:2049\"\n",
			want: func() Config { c := DefaultConfig(); c.Server.Listen = "[::1]:2049"; return c }()},

		{name: "export options", text: "[server]\nclients = [\"10.0.0.9/24\", \"192.168.1.7\", \"fd00::/8\"]\nread_only = true\nsecure = true\nanonuid = 1001\nanongid = 100\nportmap = false\n",
			want: func() Config {
				c := DefaultConfig()
				c.Server.Clients = []string{"10.0.0.9/24", "192.168.1.7", "fd00::/8"}
				c.Server.ReadOnly, c.Server.Secure, c.Server.AnonUID, c.Server.AnonGID, c.Server.Portmap = true, true, 1001, 100, false
				return c
			}()},
		{name: "bad client network", text: "[server]\nclients = [\"10.0.0.0/33\"]\n",
			errs: []string{`server.clients "10.0.0.0/33"`, `want networks such as`}},
		{name: "frontend removed", text: "[server]\nfrontend = \"go-nfs\"\nlisten = \"127.0.0.1:2049\"\n",
			errs: []string{`config: server.frontend "go-nfs" (from `, "the go-nfs front end was removed", "delete the line"}},
		{name: "frontend nfsd removed too", text: "[server]\nfrontend = \"nfsd\"\n",
			errs: []string{`config: server.frontend "nfsd" (from `, "delete the line"}},
		{name: "frontend and an unknown key", text: "[server]\nfrontend = \"go-nfs\"\nlisen = \"x\"\n",
			errs: []string{`server.frontend "go-nfs"`, "delete the line", "unknown key server.lisen"}},

		{name: "unknown key named", text: "[server]\nlisten = \"127.0.0.1:2049\"\nlisen = \"x\"\n[cache]\ndir_tl = \"5s\"\n",
			errs: []string{"unknown key", "server.lisen", "cache.dir_tl"}},
		{name: "cache too small", text: "[cache]\nsize = \"1MiB\"\n", errs: []string{`cache.size "1MiB"`, "64MiB"}},
		{name: "watermarks crossed", text: "[cache]\nhigh_water = 0.5\nlow_water = 0.7\n", errs: []string{"cache.low_water", "below cache.high_water"}},
		{name: "bad concurrency", text: "[cache]\nupload_concurrency = 0\n", errs: []string{"cache.upload_concurrency", "1 to 256"}},
		{name: "bad size unit", text: "[cache]\nsize = \"10GB\"\n", errs: []string{"cache.size"}},
		{name: "unknown table named", text: "[s3]\nbucket = \"b\"\n", errs: []string{"unknown key", "s3", "s3.bucket"}},
		{name: "syntax error has line", text: "[server]\n\nlisten = \"abc\n", errs: []string{"line 3", "server.listen"}},
		{name: "type error has line and key", text: "[server]\nlisten = 2049\n", errs: []string{"line 2", "server.listen"}},
		{name: "duplicate key", text: "[log]\nlevel = \"info\"\nlevel = \"debug\"\n", errs: []string{"line 3", "log.level"}},

		{name: "bad listen no port", text: "[server]\nlisten = \"abc\"\n",
			errs: []string{`config: server.listen "abc"`, "want HOST:PORT such as 127.0.0.1:2049"}},
		{name: "bad listen port range", text: "[server]\nlisten = \"127.0.0.1:99999\"\n", errs: []string{"server.listen", "65535"}},
		{name: "bad listen port name", text: "[server]\nlisten = \"127.0.0.1:nfs\"\n", errs: []string{"server.listen", "PORT"}},
		{name: "bad listen host", text: "[server]\nlisten = \"bad host:2049\"\n", errs: []string{"server.listen", "HOST"}},
		{name: "empty state dir", text: "[server]\nstate_dir = \"\"\n", errs: []string{"server.state_dir"}},
		{name: "bad export name", text: "[server]\nexport_name = \"office/\"\n", errs: []string{"server.export_name", `such as "/"`}},

		{name: "bad mode string", text: "[cache]\ndefault_file_mode = \"rw-r--r--\"\n",
			errs: []string{"line 2", "cache.default_file_mode", `want an octal mode such as "0644"`}},
		{name: "bad mode digit", text: "[cache]\ndefault_dir_mode = \"0789\"\n", errs: []string{"cache.default_dir_mode", "octal"}},
		{name: "mode as number", text: "[cache]\ndefault_file_mode = 644\n", errs: []string{"cache.default_file_mode", "quoted"}},
		{name: "mode out of range", text: "[cache]\ndefault_file_mode = \"17777\"\n", errs: []string{`cache.default_file_mode "17777"`, "7777"}},

		{name: "bad duration", text: "[cache]\nupload_delay = \"2x\"\n",
			errs: []string{"line 2", "cache.upload_delay", `want a duration such as "2s"`}},
		{name: "duration as number", text: "[cache]\nupload_delay = 2\n", errs: []string{"cache.upload_delay", "quoted"}},
		{name: "negative duration", text: "[cache]\nupload_delay = \"-1s\"\n", errs: []string{`cache.upload_delay "-1s"`, "zero or more"}},
		{name: "negative uid", text: "[cache]\ndefault_uid = -1\n", errs: []string{"cache.default_uid", "out of range"}},

		{name: "s3 backend", text: s3Full, want: s3Want},
		{name: "s3 part size forms", text: "[backend]\ntype = \"s3\"\n[backend.s3]\nbucket = \"b-1\"\npart_size = 8388608\n",
			want: func() Config {
				c := DefaultConfig()
				c.Backend.Type, c.Backend.S3.Bucket, c.Backend.S3.PartSize = "s3", "b-1", 8<<20
				return c
			}()},
		{name: "s3 settings ignored for posix", text: "[backend.s3]\npart_size = \"1KiB\"\n",
			want: func() Config { c := DefaultConfig(); c.Backend.S3.PartSize = 1 << 10; return c }()},
		{name: "s3 without bucket", text: "[backend]\ntype = \"s3\"\n",
			errs: []string{`backend.s3.bucket ""`, "want the name of the bucket"}},
		{name: "s3 bad values named", text: "[backend]\ntype = \"s3\"\n[backend.s3]\nbucket = \"Bad_Bucket\"\nprefix = \"office\"\n" +
			"endpoint = \"127.0.0.1:7070\"\nsse = \"aes\"\nstorage_class = \"COLD\"\nchecksum = \"always\"\npart_size = \"1MiB\"\nupload_concurrency = 0\n",
			errs: []string{`backend.s3.bucket "Bad_Bucket"`, `backend.s3.prefix "office"`, `ending in "/"`, "backend.s3.endpoint",
				`backend.s3.sse "aes"`, `backend.s3.storage_class "COLD"`, "STANDARD_IA", `backend.s3.checksum "always"`,
				`backend.s3.part_size "1MiB"`, `"5MiB" to "5GiB"`, `backend.s3.upload_concurrency "0"`}},
		{name: "s3 kms key without kms", text: "[backend]\ntype = \"s3\"\n[backend.s3]\nbucket = \"b-1\"\nkms_key_id = \"alias/x\"\n",
			errs: []string{"backend.s3.kms_key_id", `"kms"`}},
		{name: "s3 bad size", text: "[backend.s3]\npart_size = \"16MB\"\n", errs: []string{"line 2", "backend.s3.part_size", `"16MiB"`}},
		{name: "bad s3 stat concurrency", text: "[backend]\ntype = \"s3\"\n[backend.s3]\nbucket = \"b\"\nregion = \"eu-west-1\"\nstat_concurrency = 1000\n", errs: []string{"backend.s3.stat_concurrency", "1 to 256"}},
		{name: "s3 unknown key", text: "[backend.s3]\nsecret_key = \"x\"\n", errs: []string{"unknown key", "backend.s3.secret_key"}},
		{name: "bad backend type", text: "[backend]\ntype = \"gcs\"\n", errs: []string{`backend.type "gcs"`, `want "posix" or "s3"`}},
		{name: "empty backend type", text: "[backend]\ntype = \"\"\n", errs: []string{`backend.type ""`}},

		{name: "bad log level", text: "[log]\nlevel = \"verbose\"\n", errs: []string{`log.level "verbose"`, `"debug", "info", "warn", "error"`}},
		{name: "bad log format", text: "[log]\nformat = \"logfmt\"\n", errs: []string{`log.format "logfmt"`, `"json"`}},
		{name: "every bad value reported", text: "[server]\nlisten = \"x\"\n[log]\nlevel = \"loud\"\n",
			errs: []string{"server.listen", "log.level"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.text)
			got, err := LoadConfig(path)
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("LoadConfig succeeded with %+v, want error containing %q", got, tt.errs)
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				if !strings.Contains(err.Error(), path) {
					t.Errorf("error %q does not name the file %s", err, path)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadConfig: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("LoadConfig =\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
}

const s3Full = `
[backend]
type = "s3"
[backend.s3]
bucket = "office-files"
prefix = "site-a/"
region = "eu-west-1"
endpoint = "https://s3.example.com"
path_style = true
profile = "filegate"
sse = "kms"
kms_key_id = "alias/filegate"
storage_class = "STANDARD_IA"
checksum = "when_required"
part_size = "64MiB"
upload_concurrency = 8
stat_concurrency = 64
`

var s3Want = func() Config {
	c := DefaultConfig()
	c.Backend.Type = "s3"
	c.Backend.S3 = S3Config{Bucket: "office-files", Prefix: "site-a/", Region: "eu-west-1", Endpoint: "https://s3.example.com",
		PathStyle: true, Profile: "filegate", SSE: "kms", KMSKeyID: "alias/filegate", StorageClass: "STANDARD_IA",
		Checksum: "when_required", PartSize: 64 << 20, UploadConcurrency: 8, StatConcurrency: 64}
	return c
}()

func TestS3Config(t *testing.T) {
	sc := s3Want.S3()
	if sc.Bucket != "office-files" || sc.Prefix != "site-a/" || !sc.PathStyle || sc.PartSize != 64<<20 ||
		sc.UploadConcurrency != 8 || sc.StatConcurrency != 64 || sc.SSE != "kms" || sc.KMSKeyID != "alias/filegate" || sc.Checksum != "when_required" {
		t.Errorf("S3() = %+v", sc)
	}
	if err := sc.Validate(); err != nil {
		t.Error(err)
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := LoadConfig(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), path) {
		t.Fatalf("LoadConfig(missing) = %v, want a not-exist error naming %s", err, path)
	}
}

func TestLoadConfigTouchesNothing(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	path := writeFile(t, "[server]\nstate_dir = \""+state+"\"\n[backend]\npath = \""+filepath.Join(dir, "be")+"\"\n")
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("load and validate created %v in %s", entries, dir)
	}
}

func TestDefaultConfigValid(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestBackendPath(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Server.StateDir = "/var/lib/filegate"
	if got, want := cfg.BackendPath(), "/var/lib/filegate/backend"; got != want {
		t.Errorf("BackendPath() = %q, want %q", got, want)
	}
	cfg.Backend.Path = "/mnt/efs"
	if got, want := cfg.BackendPath(), "/mnt/efs"; got != want {
		t.Errorf("BackendPath() = %q, want %q", got, want)
	}
}

// TestExampleConfig checks that the shipped example parses, validates, sets
// every key (so it documents every key) and shows the defaults.
func TestExampleConfig(t *testing.T) {
	cfg, err := decodeConfig(ExampleConfig)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example config: %v", err)
	}
	if !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Errorf("example config values differ from DefaultConfig:\n%+v\n%+v", cfg, DefaultConfig())
	}
	var raw map[string]any
	md, err := toml.Decode(ExampleConfig, &raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range configKeys(t) {
		if key == "limits" || key == "exports" {
			// An array of tables, empty by default: the example shows
			// tables in comments, so that it stays the default.
			if !strings.Contains(ExampleConfig, "# [["+key+"]]") {
				t.Errorf("example config does not document [[%s]]", key)
			}
			continue
		}
		if !md.IsDefined(strings.Split(key, ".")...) {
			t.Errorf("example config does not set %s", key)
		}
	}
}

// FuzzDecodeConfig checks that no input panics the decoder or Validate, and
// that an accepted config survives an encode/decode round trip.
func FuzzDecodeConfig(f *testing.F) {
	f.Add(ExampleConfig)
	f.Add("[server]\nlisten = \"abc\"\n")
	f.Add("[cache]\ndefault_file_mode = \"0644\"\nupload_delay = \"1h\"\n")
	f.Fuzz(func(t *testing.T, text string) {
		cfg, err := decodeConfig(text)
		if err != nil {
			return
		}
		if cfg.Validate() != nil {
			return
		}
		var b strings.Builder
		if err := toml.NewEncoder(&b).Encode(cfg); err != nil {
			t.Fatalf("encode %+v: %v", cfg, err)
		}
		again, err := decodeConfig(b.String())
		if err != nil {
			t.Fatalf("decode of encoded %+v: %v\n%s", cfg, err, b.String())
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed config:\n%+v\n%+v", cfg, again)
		}
	})
}

func TestLimitsAndMetricsConfig(t *testing.T) {
	cfg, err := decodeConfig(`
[metrics]
listen = "127.0.0.1:9477"

[[limits]]
days = "mon-fri"
hours = "08:00-18:00"
upload = "2MiB"
download = "10MiB"

[[limits]]
upload = "20MiB"
`)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sched := cfg.Schedule()
	if len(sched) != 2 || sched[0].Upload != 2<<20 || sched[0].Download != 10<<20 || sched[1].Upload != 20<<20 || sched[1].Text != "always" {
		t.Errorf("schedule = %+v", sched)
	}
	for _, tt := range []struct{ text, want string }{
		{"[metrics]\nlisten = \"localhost\"\n", `metrics.listen "localhost"`},
		{"[[limits]]\ndays = \"weekdays\"\n", `limits[1].days "weekdays": days "weekdays": unknown day`},
		{"[[limits]]\n[[limits]]\nhours = \"8-18\"\n", `limits[2].hours "8-18": hours "8-18": want HH:MM-HH:MM`},
		{"[[limits]]\nupload = \"fast\"\n", `want a size`},
		{"[[limits]]\nspeed = 1\n", `unknown key limits.speed`},
	} {
		cfg, err := decodeConfig(tt.text)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err %v, want %q", tt.text, err, tt.want)
		}
	}
}

func TestReloadConfig(t *testing.T) {
	old := DefaultConfig()
	next := DefaultConfig()
	next.Cache.Size = Size(20 << 30)
	next.Cache.DirtyLimit = Size(1 << 30)
	next.Log.Level = "debug"
	next.Limits = []LimitConfig{{Days: "mon-fri", Upload: Size(1 << 20)}}
	next.Server.Listen = "0.0.0.0:2049"
	next.Backend.S3.Bucket = "other"
	got := diffKeys("", reflect.ValueOf(old), reflect.ValueOf(next))
	want := []string{"server.listen", "backend.s3.bucket", "cache.size", "cache.dirty_limit", "log.level", "limits"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("diffKeys = %q, want %q", got, want)
	}
	if got := diffKeys("", reflect.ValueOf(old), reflect.ValueOf(DefaultConfig())); len(got) != 0 {
		t.Errorf("diffKeys of equal configs = %q", got)
	}
}

// TestServeRefusesFrontend: server.frontend is gone; a config that still
// sets it stops serve with exit status 2 and says what to do.
func TestServeRefusesFrontend(t *testing.T) {
	for _, v := range []string{"go-nfs", "nfsd"} {
		path := writeFile(t, "[server]\nlisten = \"127.0.0.1:0\"\nfrontend = \""+v+"\"\n")
		var out, errb strings.Builder
		code := run([]string{"serve", "--config", path, "--state", t.TempDir()}, &out, &errb)
		want := `filegate: config: server.frontend "` + v + `" (from ` + path + `): the go-nfs front end was removed and ` +
			`filegate always serves NFS with its own server (what frontend = "nfsd" chose): delete the line`
		if code != exitUsage || !strings.Contains(errb.String(), want) {
			t.Errorf("frontend = %q: exit %d, stderr %q; want %d with %q", v, code, errb.String(), exitUsage, want)
		}
	}
}
