package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/filegate/filegate/gateway/admin"
)

// The admin verbs talk to a running `filegate serve` over its admin
// socket, STATE_DIR/admin.sock.

// exitNotRunning is the exit status when no daemon answers.
const exitNotRunning = 3

// systemStateDir is where the systemd unit keeps the state; the verbs
// look there when the default ./filegate-data has no socket.
const systemStateDir = "/var/lib/filegate"

// adminFlags are the flags every admin verb takes.
type adminFlags struct {
	state, socket string
}

func newAdminFlags(name string, af *adminFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&af.state, "state", "", "the daemon's state `DIR` (default ./filegate-data, else "+systemStateDir+")")
	fs.StringVar(&af.socket, "socket", "", "the admin socket `PATH` (default STATE_DIR/admin.sock)")
	return fs
}

// parseInterspersed parses fs allowing flags after the arguments
// ("flush docs --wait") and returns the arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// socketPath picks the socket: --socket, else --state's, else
// ./filegate-data's if it exists, else the systemd unit's.
func (af adminFlags) socketPath() string {
	switch {
	case af.socket != "":
		return af.socket
	case af.state != "":
		return filepath.Join(af.state, "admin.sock")
	}
	local := filepath.Join(DefaultConfig().Server.StateDir, "admin.sock")
	if _, err := os.Stat(local); err != nil {
		sys := filepath.Join(systemStateDir, "admin.sock")
		if _, err := os.Stat(sys); err == nil || errors.Is(err, fs.ErrPermission) {
			return sys
		}
	}
	return local
}

// failed prints err and returns the exit status for it.
func failed(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "filegate: %v\n", err)
	if errors.As(err, new(notRunning)) {
		return exitNotRunning
	}
	return exitFailure
}

// adminCommand parses a verb's flags: the common ones plus extra, and
// between min and max arguments.
func adminCommand(name string, args []string, stderr io.Writer, minArgs, maxArgs int, usage string, extra func(*flag.FlagSet)) (*adminClient, []string, int) {
	var af adminFlags
	fs := newAdminFlags(name, &af)
	if extra != nil {
		extra(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stderr, "Usage: filegate %s\n\nOptions:\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			arg, u := flag.UnquoteUsage(f)
			fmt.Fprintf(stderr, "  --%s %s\n        %s\n", f.Name, arg, u)
		})
		return nil, nil, exitUsage
	}
	if err == nil && (len(pos) < minArgs || len(pos) > maxArgs) {
		err = fmt.Errorf("want %s", usage)
	}
	if err != nil {
		fmt.Fprintf(stderr, "filegate: %s: %v\nUsage: filegate %s\n", name, err, usage)
		return nil, nil, exitUsage
	}
	return newAdminClient(af.socketPath()), pos, -1
}

// exportFlag adds --export to a verb's flags.
func exportFlag(export *string) func(*flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(export, "export", "", "the export `NAME` (\"/office\") PATH is in; without it PATH starts with the export's name")
	}
}

// shownPath is how the verbs name PATH: inside export, if given.
func shownPath(export, p string) string {
	if export != "" {
		return path.Join("/"+export, "/"+p)
	}
	return path.Clean("/" + p)
}

// pathVerb runs refresh, pin, unpin or evict.
func pathVerb(verb string, args []string, stdout, stderr io.Writer) int {
	var export string
	c, pos, code := adminCommand(verb, args, stderr, 1, 1, verb+" PATH [--export NAME] [--state DIR | --socket PATH]", exportFlag(&export))
	if c == nil {
		return code
	}
	var out struct {
		Path  string `json:"path"`
		Files int    `json:"files"`
		Bytes int64  `json:"bytes"`
	}
	if err := c.callJSON("POST", "/v1/"+verb, map[string]any{"path": pos[0], "export": export}, &out); err != nil {
		return failed(stderr, err)
	}
	switch verb {
	case "refresh":
		fmt.Fprintf(stdout, "%s: listed again from the backend\n", out.Path)
	case "pin":
		fmt.Fprintf(stdout, "%s: %d files (%s) pinned in the cache\n", out.Path, out.Files, humanBytes(out.Bytes))
	case "unpin":
		fmt.Fprintf(stdout, "%s: %d files unpinned\n", out.Path, out.Files)
	case "evict":
		fmt.Fprintf(stdout, "%s: %d files (%s) evicted; files not yet uploaded, pinned or in use stay\n", out.Path, out.Files, humanBytes(out.Bytes))
	}
	return exitOK
}

func cmdLogLevel(args []string, stdout, stderr io.Writer) int {
	c, pos, code := adminCommand("loglevel", args, stderr, 0, 1, "loglevel [debug|info|warn|error] [--state DIR | --socket PATH]", nil)
	if c == nil {
		return code
	}
	var out struct {
		Level string `json:"level"`
	}
	var err error
	if len(pos) == 0 {
		err = c.callJSON("GET", "/v1/loglevel", nil, &out)
	} else {
		if _, perr := admin.ParseLevel(pos[0]); perr != nil {
			fmt.Fprintf(stderr, "filegate: loglevel: %v\n", perr)
			return exitUsage
		}
		err = c.callJSON("PUT", "/v1/loglevel", map[string]any{"level": pos[0]}, &out)
	}
	if err != nil {
		return failed(stderr, err)
	}
	fmt.Fprintln(stdout, out.Level)
	return exitOK
}
