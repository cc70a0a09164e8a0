package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

func TestParseServeFlagsOverrideFile(t *testing.T) {
	file := writeFile(t, `
[server]
listen = "127.0.0.1:2049"
state_dir = "/srv/file-state"
[log]
level = "warn"
format = "json"
[cache]
default_uid = 1000
`)
	fromFile := DefaultConfig()
	fromFile.Server.StateDir = "/srv/file-state"
	fromFile.Log = LogConfig{Level: "warn", Format: "json"}
	fromFile.Cache.DefaultUID = 1000

	tests := []struct {
		name string
		args []string
		want func(*Config)
		errs []string
	}{
		{name: "file only", args: []string{"--config", file}, want: func(*Config) {}},
		{name: "flags override file", args: []string{"--config", file, "--listen", "127.0.0.1:12049", "--state", "/tmp/s",
			"--log-level", "debug", "--log-format", "text"},
			want: func(c *Config) {
				c.Server.Listen = "127.0.0.1:12049"
				c.Server.StateDir = "/tmp/s"
				c.Log = LogConfig{Level: "debug", Format: "text"}
			}},
		{name: "empty flag value overrides too", args: []string{"-config=" + file, "-log-format="},
			want: func(c *Config) { c.Log.Format = "" }},
		{name: "bad flag value names the flag", args: []string{"--config", file, "--listen", "abc"},
			errs: []string{`config: server.listen "abc" (from --listen): want HOST:PORT`}},
		{name: "bad file value names the file", args: []string{"--config", writeFile(t, "[log]\nlevel = \"loud\"\n")},
			errs: []string{`config: log.level "loud" (from `, "filegate.toml)"}},
		{name: "flag fixes a bad file value", args: []string{"--config", writeFile(t, "[log]\nlevel = \"loud\"\n"), "--log-level", "info"},
			want: func(c *Config) { *c = DefaultConfig() }},
		{name: "unknown flag", args: []string{"--listne", "x"}, errs: []string{"serve:", "listne"}},
		{name: "stray argument", args: []string{"extra"}, errs: []string{`serve: unexpected argument "extra"`}},
		{name: "missing file", args: []string{"--config", "/nonexistent/filegate.toml"}, errs: []string{"/nonexistent/filegate.toml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := parseServe(tt.args)
			if len(tt.errs) > 0 {
				if err == nil {
					t.Fatalf("parseServe succeeded with %+v", got)
				}
				for _, s := range tt.errs {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := fromFile
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("parseServe =\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestParseServeDefaults(t *testing.T) {
	got, _, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, DefaultConfig()) {
		t.Errorf("parseServe(nil) = %+v, want DefaultConfig", got)
	}
	if _, _, err := parseServe([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("parseServe(--help) = %v, want flag.ErrHelp", err)
	}
}

func TestRun(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		stdoutSame string
	}{
		{name: "no command", args: nil, code: 2, stderr: []string{"Usage: filegate COMMAND"}},
		{name: "unknown command", args: []string{"srve"}, code: 2, stderr: []string{`filegate: unknown command "srve"`}},
		{name: "help", args: []string{"help"}, code: 0, stdout: []string{"serve", "version", "help"}},
		{name: "--help", args: []string{"--help"}, code: 0, stdout: []string{"Usage: filegate COMMAND"}},
		{name: "help config", args: []string{"help", "config"}, code: 0, stdoutSame: ExampleConfig},
		{name: "help bad topic", args: []string{"help", "nfs"}, code: 2, stderr: []string{"filegate: help: unknown topic"}},
		{name: "version", args: []string{"version"}, code: 0, stdout: []string{"filegate ", "go1."}},
		{name: "serve help lists flags and keys", args: []string{"serve", "--help"}, code: 0,
			stdout: append([]string{"--config FILE", "--listen ADDR", "--state DIR", "--log-level LEVEL", "--log-format FORMAT", "--help"},
				configKeys(t)...)},
		{name: "help serve", args: []string{"help", "serve"}, code: 0, stdout: []string{"--listen ADDR", "server.listen"}},
		{name: "serve bad flag", args: []string{"serve", "--port", "1"}, code: 2,
			stderr: []string{"filegate: serve: flag provided but not defined", "filegate serve --help"}},
		{name: "serve bad config", args: []string{"serve", "--listen", "abc", "--log-level", "x"}, code: 2,
			stderr: []string{"filegate: config: server.listen \"abc\" (from --listen)", "\nfilegate: config: log.level \"x\" (from --log-level)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout does not contain %q:\n%s", s, stdout.String())
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr does not contain %q:\n%s", s, stderr.String())
				}
			}
			if tt.stdoutSame != "" && stdout.String() != tt.stdoutSame {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdoutSame)
			}
		})
	}
}

func TestServeUsageListsEveryFlag(t *testing.T) {
	var sf serveFlags
	fs := newServeFlags(&sf)
	var b bytes.Buffer
	printServeUsage(&b, fs)
	fs.VisitAll(func(f *flag.Flag) {
		if !strings.Contains(b.String(), "--"+f.Name+" ") {
			t.Errorf("serve usage does not list --%s", f.Name)
		}
	})
	for name, key := range flagKeys {
		if fs.Lookup(name) == nil {
			t.Errorf("flagKeys names --%s, which serve does not define", name)
		}
		if !strings.Contains(strings.Join(configKeys(t), " "), key) {
			t.Errorf("flagKeys maps --%s to %s, which is not a config key", name, key)
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name     string
		cfg      LogConfig
		journald bool
		check    func(t *testing.T, out string)
	}{
		{name: "auto under journald drops time", cfg: LogConfig{Level: "info"}, journald: true,
			check: func(t *testing.T, out string) {
				if strings.Contains(out, "time=") || !strings.Contains(out, "level=INFO msg=hello") {
					t.Errorf("got %q, want text without time", out)
				}
			}},
		{name: "auto on a terminal has time", cfg: LogConfig{Level: "info"},
			check: func(t *testing.T, out string) {
				if !strings.HasPrefix(out, "time=") {
					t.Errorf("got %q, want text with time", out)
				}
			}},
		{name: "text keeps time under journald", cfg: LogConfig{Level: "info", Format: "text"}, journald: true,
			check: func(t *testing.T, out string) {
				if !strings.HasPrefix(out, "time=") {
					t.Errorf("got %q, want text with time", out)
				}
			}},
		{name: "json", cfg: LogConfig{Level: "info", Format: "json"},
			check: func(t *testing.T, out string) {
				var m map[string]any
				if err := json.Unmarshal([]byte(out), &m); err != nil || m["msg"] != "hello" {
					t.Errorf("got %q (%v), want one JSON record", out, err)
				}
			}},
		{name: "level filters", cfg: LogConfig{Level: "warn"},
			check: func(t *testing.T, out string) {
				if out != "" {
					t.Errorf("info record logged at level warn: %q", out)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			logger, _ := newLogger(&b, tt.cfg, tt.journald)
			logger.Info("hello", "path", "a/b")
			tt.check(t, b.String())
		})
	}
}

func TestLoggerLevelVar(t *testing.T) {
	var b bytes.Buffer
	logger, lv := newLogger(&b, LogConfig{Level: "info"}, true)
	logger.Debug("hidden")
	lv.Set(slog.LevelDebug)
	logger.Debug("shown")
	if got := b.String(); strings.Contains(got, "hidden") || !strings.Contains(got, "shown") {
		t.Errorf("after LevelVar.Set(debug) got %q", got)
	}
}
