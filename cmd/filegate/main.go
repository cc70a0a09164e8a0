package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
)

// version is the release version, set at link time with
// -ldflags "-X main.version=v1.2.3". When empty, the module version Go
// records at build time (including the VCS revision) is used.
var version string

// Exit statuses.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line (without the program name) and returns
// the process exit status. Only main exits.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, mainUsage)
		return exitUsage
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "status":
		return cmdStatus(args[1:], stdout, stderr)
	case "flush":
		return cmdFlush(args[1:], stdout, stderr)
	case "refresh", "pin", "unpin", "evict":
		return pathVerb(args[0], args[1:], stdout, stderr)
	case "loglevel":
		return cmdLogLevel(args[1:], stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	case "help", "-h", "-help", "--help":
		return cmdHelp(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "filegate: unknown command %q\n\n%s", args[0], mainUsage)
		return exitUsage
	}
}

const mainUsage = `Usage: filegate COMMAND [OPTIONS]

filegate serves a local disk cache of a cloud store over NFSv3.

Commands:
  serve     run the NFS gateway until SIGINT or SIGTERM (SIGHUP reloads
            the config file: cache size, dirty limit, log level, limits)
  status    the running gateway's state in one screen (--json: as JSON)
  flush     upload now what is at or below PATH (default: everything);
            --wait returns only when it is all in the backend
  refresh   list the folder PATH again from the backend
  pin       fetch PATH (a file, or every file below a folder) and keep it
            cached; unpin lets it be evicted again
  evict     drop the cached content of PATH (what the backend holds)
  loglevel  print the log level, or set it: debug, info, warn, error
  version   print the version
  help      print this help; 'filegate help serve' lists the serve options
            and config keys, 'filegate help config' prints an annotated
            config file with every key and its default

The admin verbs (status to loglevel) talk to the daemon's socket,
STATE_DIR/admin.sock: --state DIR (default ./filegate-data, or
/var/lib/filegate when that has no socket) or --socket PATH. PATH is a
path inside the export: /docs/a.txt or docs/a.txt.

Exit status: 0 success, 1 run-time failure (status: the gateway is
unhealthy), 2 usage or configuration error, 3 the daemon is not running
or its socket cannot be reached.
`

func cmdHelp(args []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		fmt.Fprint(stdout, mainUsage)
	case len(args) == 1 && args[0] == "serve":
		printServeUsage(stdout, newServeFlags(new(serveFlags)))
	case len(args) == 1 && args[0] == "config":
		fmt.Fprint(stdout, ExampleConfig)
	default:
		fmt.Fprintf(stderr, "filegate: help: unknown topic %q (want serve or config)\n", strings.Join(args, " "))
		return exitUsage
	}
	return exitOK
}

func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
	}
	return fmt.Sprintf("filegate %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// serveFlags holds the values of the serve command's flags.
type serveFlags struct {
	config, listen, state, logLevel, logFormat string
}

// flagKeys maps the serve flags that override a config key to that key.
var flagKeys = map[string]string{
	"listen":     "server.listen",
	"state":      "server.state_dir",
	"log-level":  "log.level",
	"log-format": "log.format",
}

func newServeFlags(sf *serveFlags) *flag.FlagSet {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed by cmdServe
	fs.Usage = func() {}
	fs.StringVar(&sf.config, "config", "", "read the TOML config `FILE` (default: none, built-in defaults)")
	fs.StringVar(&sf.listen, "listen", "", "listen on `ADDR` (HOST:PORT); overrides server.listen")
	fs.StringVar(&sf.state, "state", "", "keep local state in `DIR`; overrides server.state_dir")
	fs.StringVar(&sf.logLevel, "log-level", "", "log `LEVEL`: debug, info, warn or error; overrides log.level")
	fs.StringVar(&sf.logFormat, "log-format", "", "log `FORMAT`: json, text, or \"\" for automatic; overrides log.format")
	return fs
}

// parseServe parses the serve command line into a validated Config: the
// config file (or DefaultConfig), then the flags given. It returns
// flag.ErrHelp if help was asked for. A *FieldError in the returned error
// names the flag or file its value came from.
func parseServe(args []string) (Config, *flag.FlagSet, error) {
	var sf serveFlags
	fs := newServeFlags(&sf)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, fs, err
		}
		return Config{}, fs, usageError{fmt.Errorf("serve: %w", err)}
	}
	if fs.NArg() > 0 {
		return Config{}, fs, usageError{fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))}
	}

	cfg := DefaultConfig()
	if sf.config != "" {
		var err error
		if cfg, err = decodeConfigFile(sf.config); err != nil {
			return Config{}, fs, err
		}
	}
	set := map[string]string{} // config key -> "--flag"
	fs.Visit(func(f *flag.Flag) {
		key, ok := flagKeys[f.Name]
		if !ok {
			return
		}
		set[key] = "--" + f.Name
		switch f.Name {
		case "listen":
			cfg.Server.Listen = sf.listen
		case "state":
			cfg.Server.StateDir = sf.state
		case "log-level":
			cfg.Log.Level = sf.logLevel
		case "log-format":
			cfg.Log.Format = sf.logFormat
		}
	})
	if err := cfg.Validate(); err != nil {
		return Config{}, fs, attributeErrors(err, func(key string) string {
			if f, ok := set[key]; ok {
				return f
			}
			return sf.config
		})
	}
	return cfg, fs, nil
}

func cmdServe(args []string, stdout, stderr io.Writer) int {
	cfg, fs, err := parseServe(args)
	if errors.Is(err, flag.ErrHelp) {
		printServeUsage(stdout, fs)
		return exitOK
	}
	if err != nil {
		printError(stderr, err)
		if errors.As(err, new(usageError)) {
			fmt.Fprintln(stderr, "Run 'filegate serve --help' for usage.")
		}
		return exitUsage
	}

	logger, level := newLogger(stderr, cfg.Log, os.Getenv("JOURNAL_STREAM") != "")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads once serving (handleHUP); before and after that it
	// must not kill the daemon, which is its default.
	signal.Ignore(syscall.SIGHUP)
	attrs := []any{"version", versionString()}
	if path := fs.Lookup("config").Value.String(); path != "" {
		attrs = append(attrs, "path", path)
	}
	logger.Info("starting", attrs...)
	reload := func() (Config, error) {
		cfg, _, err := parseServe(args)
		return cfg, err
	}
	if err := runServe(ctx, cfg, logger, serveEnv{level: level, reload: reload}); err != nil {
		logger.Error("exiting", "err", err)
		return exitFailure
	}
	return exitOK
}

// usageError marks a command-line syntax error, answered with a pointer to
// --help.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// printError prints err as "filegate: ..." lines, one per joined error.
func printError(w io.Writer, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(w, "filegate: %s\n", line)
	}
}

func printServeUsage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: filegate serve [OPTIONS]

Run the NFSv3 gateway until SIGINT or SIGTERM. Settings come from the
config file (if --config is given), then from the flags below.

Options:
`)
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		fmt.Fprintf(w, "  --%s %s\n        %s\n", f.Name, arg, usage)
	})
	fmt.Fprintln(w, "  --help\n        print this help")
	fmt.Fprint(w, "\nConfig file keys (TOML) and defaults; 'filegate help config' explains each:\n")
	for _, line := range configKeyLines() {
		fmt.Fprintf(w, "  %s\n", line)
	}
	fmt.Fprint(w, "\nExit status: 0 clean shutdown, 1 run-time failure, 2 usage or configuration error.\n")
}

// configKeyLines lists every config key as "table.key = default", derived
// from DefaultConfig so it cannot drift from the code.
func configKeyLines() []string {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(DefaultConfig()); err != nil {
		return []string{"(cannot list keys: " + err.Error() + ")"}
	}
	var tables map[string]map[string]any
	if _, err := toml.Decode(b.String(), &tables); err != nil {
		return []string{"(cannot list keys: " + err.Error() + ")"}
	}
	var lines []string
	var add func(prefix string, t map[string]any)
	add = func(prefix string, t map[string]any) {
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var subtables []string
		for _, k := range keys {
			switch v := t[k].(type) {
			case map[string]any:
				subtables = append(subtables, k) // after the table's own keys
			case string:
				lines = append(lines, fmt.Sprintf("%s%s = %q", prefix, k, v))
			default:
				lines = append(lines, fmt.Sprintf("%s%s = %v", prefix, k, v))
			}
		}
		for _, k := range subtables {
			add(prefix+k+".", t[k].(map[string]any))
		}
	}
	for _, table := range []string{"server", "backend", "cache", "log", "metrics"} {
		add(table+".", tables[table])
	}
	return append(lines, `[[limits]] days = "", hours = "", upload = "0", download = "0" (any number of rules; none by default)`,
		`[[exports]] name = "/office", backend = {type = "posix", path = ""}, squash = "root", anonuid = 65534, anongid = 65534, clients = [], read_only = false, secure = false (none by default: the top-level export)`)
}

// newLogger builds the daemon's logger on w, per cfg: JSON, text, or for
// the automatic format text without timestamps under journald (which
// stamps lines itself). The returned LevelVar changes the level at run
// time.
func newLogger(w io.Writer, cfg LogConfig, journald bool) (*slog.Logger, *slog.LevelVar) {
	lv := new(slog.LevelVar)
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err == nil {
		lv.Set(level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	var h slog.Handler
	switch cfg.Format {
	case "json":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		if journald {
			opts.ReplaceAttr = dropTime
		}
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(h), lv
}

func dropTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
