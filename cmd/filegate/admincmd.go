package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

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

// adminClient calls the admin API on one socket.
type adminClient struct {
	socket string
	http   *http.Client
}

func newAdminClient(socket string) *adminClient {
	return &adminClient{socket: socket, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return new(net.Dialer).DialContext(ctx, "unix", socket)
		}}}}
}

// notRunning is a failure to reach the daemon.
type notRunning struct{ msg string }

func (e notRunning) Error() string { return e.msg }

// call sends one request and returns the response, whose body the
// caller closes; a non-2xx answer is returned as its error message.
func (a *adminClient) call(method, path string, body any) (*http.Response, error) {
	return a.callCtx(context.Background(), method, path, body)
}

// callCtx is call bounded by ctx.
func (a *adminClient) callCtx(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://filegate"+path, r)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, notRunning{fmt.Sprintf("filegate is not running (no socket at %s): start it with systemctl start filegate or filegate serve", a.socket)}
		case errors.Is(err, syscall.ECONNREFUSED):
			return nil, notRunning{fmt.Sprintf("filegate is not running (nothing answers on %s): start it with systemctl start filegate or filegate serve", a.socket)}
		case errors.Is(err, fs.ErrPermission):
			return nil, notRunning{fmt.Sprintf("permission denied on %s: the admin socket is root-only; run this as root (sudo)", a.socket)}
		}
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, notRunning{fmt.Sprintf("cannot reach filegate on %s: %v", a.socket, err)}
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
		}
		return nil, errors.New(e.Error)
	}
	return resp, nil
}

// callJSON is call, decoding the answer into out.
func (a *adminClient) callJSON(method, path string, body, out any) error {
	resp, err := a.call(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
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

func cmdStatus(args []string, stdout, stderr io.Writer) int {
	var asJSON bool
	c, _, code := adminCommand("status", args, stderr, 0, 0, "status [--json] [--state DIR | --socket PATH]",
		func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print the status as JSON") })
	if c == nil {
		return code
	}
	resp, err := c.call("GET", "/v1/status", nil)
	if err != nil {
		return failed(stderr, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return failed(stderr, err)
	}
	var s admin.Status
	if err := json.Unmarshal(raw, &s); err != nil {
		return failed(stderr, fmt.Errorf("bad status answer: %w", err))
	}
	if asJSON {
		stdout.Write(raw)
	} else {
		printStatus(stdout, s, time.Now())
	}
	if !s.Health.OK {
		return exitFailure
	}
	return exitOK
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return fmtDur(now.Sub(t)) + " ago"
}

// fmtDur formats d briefly: "45s", "12m", "3h12m", "2d4h".
func fmtDur(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

func pct(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100**f)
}

// cut shortens s to n runes.
func cut(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// cutLeft shortens s to n runes, keeping its end (a path's file name).
func cutLeft(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return "…" + string(r[len(r)-n+1:])
	}
	return s
}

// printStatus writes s for a person, in one screen (at most about 24
// lines of at most 100 columns): one export in full, several as a
// table of one line each.
func printStatus(w io.Writer, s admin.Status, now time.Time) {
	fmt.Fprintf(w, "%s, pid %d, up %s, log level %s\n", s.Version, s.PID, fmtDur(time.Duration(s.UptimeSeconds*float64(time.Second))), s.LogLevel)
	if s.Health.OK {
		fmt.Fprintln(w, "Health:   OK")
	} else {
		fmt.Fprintf(w, "Health:   UNHEALTHY\n")
		for i, p := range s.Health.Problems {
			if i == 5 && len(s.Health.Problems) > 6 {
				fmt.Fprintf(w, "          and %d more (filegate status --json lists all)\n", len(s.Health.Problems)-i)
				break
			}
			fmt.Fprintf(w, "          - %s\n", cut(p, 88))
		}
	}
	if len(s.Exports) == 1 {
		x := s.Exports[0]
		fmt.Fprintf(w, "Export:   %s on %s\n", x.Name, x.Listen)
		printClients(w, s.Clients, now)
		printBackend(w, x.Backend, now)
		printCache(w, x.Cache, x.Dirty)
		printUploads(w, x.Uploads)
		printLimits(w, s.Limits)
	} else {
		listen := ""
		if len(s.Exports) > 0 {
			listen = " on " + s.Exports[0].Listen
		}
		fmt.Fprintf(w, "Exports:  %d%s\n", len(s.Exports), listen)
		printClients(w, s.Clients, now)
		printUploads(w, s.Uploads)
		printLimits(w, s.Limits)
		printExportTable(w, s.Exports)
	}
	if len(s.Failing) > 0 {
		fmt.Fprintf(w, "Failing:  %d\n", len(s.Failing))
		for i, f := range s.Failing {
			if i == 5 {
				fmt.Fprintf(w, "          and %d more (filegate status --json lists all)\n", len(s.Failing)-i)
				break
			}
			head := fmt.Sprintf("          %s %s (%d tries, %s): ", f.Op, cutLeft(f.Path, 40), f.Attempts, fmtDur(now.Sub(f.Since)))
			fmt.Fprintf(w, "%s%s\n", head, cut(f.Error, max(20, 98-len([]rune(head)))))
		}
	}
}

func printClients(w io.Writer, clients []admin.ClientStatus, now time.Time) {
	line := fmt.Sprintf("Clients:  %d", len(clients))
	for i, c := range clients {
		item := c.Addr
		if !c.Since.IsZero() {
			item += " (" + fmtDur(now.Sub(c.Since)) + ")"
		}
		sep := map[bool]string{true: ": ", false: ", "}[i == 0]
		if len(line)+len(sep)+len(item) > 80 {
			line += fmt.Sprintf(", and %d more", len(clients)-i)
			break
		}
		line += sep + item
	}
	fmt.Fprintln(w, line)
}

// reach says whether b answered its last probe.
func reach(b admin.BackendStatus, now time.Time) string {
	switch {
	case !b.Probed:
		return "not probed yet"
	case b.Reachable:
		return fmt.Sprintf("reachable, %.0f ms (checked %s)", b.LatencySeconds*1000, ago(now, b.LastProbe))
	}
	return fmt.Sprintf("UNREACHABLE (probed %s): %s", ago(now, b.LastProbe), cut(b.ProbeError, 60))
}

func printBackend(w io.Writer, b admin.BackendStatus, now time.Time) {
	fmt.Fprintf(w, "Backend:  %s\n          %s\n", cut(b.Name, 88), reach(b, now))
	fmt.Fprintf(w, "          %d requests, %d errors; sent %s, received %s\n", b.Requests, b.Errors, humanBytes(b.BytesUp), humanBytes(b.BytesDown))
	if b.LastError != "" {
		fmt.Fprintf(w, "          last error %s: %s\n", ago(now, b.LastErrorAt), cut(b.LastError, 70))
	}
}

func printCache(w io.Writer, cs admin.CacheStatus, d admin.DirtyStatus) {
	used := 0.0
	if cs.MaxBytes > 0 {
		used = 100 * float64(cs.UsedBytes) / float64(cs.MaxBytes)
	}
	fmt.Fprintf(w, "Cache:    %s of %s (%.0f%%); hits %s of %d reads, %s of bytes\n", humanBytes(cs.UsedBytes), humanBytes(cs.MaxBytes), used,
		pct(cs.HitRate), cs.Reads, pct(cs.ByteHitRate))
	limit := "no limit"
	if d.LimitBytes > 0 {
		limit = fmt.Sprintf("%.0f%% of the %s limit", 100*float64(d.Bytes)/float64(d.LimitBytes), humanBytes(d.LimitBytes))
	}
	oldest := ""
	if d.Files > 0 {
		oldest = ", oldest waiting " + fmtDur(time.Duration(d.OldestSeconds*float64(time.Second)))
	}
	fmt.Fprintf(w, "Dirty:    %d files, %s (%s)%s\n", d.Files, humanBytes(d.Bytes), limit, oldest)
}

func printUploads(w io.Writer, u admin.UploadStatus) {
	fmt.Fprintf(w, "Uploads:  %d changes queued; last minute %s/s up, %s/s down; %d files uploaded, %d errors\n",
		u.QueueOps, humanBytes(int64(u.UpBytesPerSec)), humanBytes(int64(u.DownBytesPerSec)), u.Uploaded, u.UploadErrors)
}

func printLimits(w io.Writer, l admin.LimitsStatus) {
	if l.UploadBytesPerSec == 0 && l.DownloadBytesPerSec == 0 {
		if len(l.Rules) == 0 {
			fmt.Fprintln(w, "Limits:   none")
		} else {
			fmt.Fprintf(w, "Limits:   none now (%d rules in the schedule)\n", len(l.Rules))
		}
		return
	}
	fmt.Fprintf(w, "Limits:   upload %s, download %s (rule %q)\n", rateText(l.UploadBytesPerSec), rateText(l.DownloadBytesPerSec), l.Rule)
}

// printExportTable writes one line per export: its cache, hit rate,
// dirty data, upload queue and backend.
func printExportTable(w io.Writer, xs []admin.ExportStatus) {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  EXPORT\tCACHE USED\tHITS\tDIRTY\tQUEUED\tBACKEND")
	for _, x := range xs {
		be := "not probed"
		switch {
		case !x.Backend.Probed:
		case x.Backend.Reachable:
			be = fmt.Sprintf("ok %.0f ms", x.Backend.LatencySeconds*1000)
		default:
			be = "UNREACHABLE"
		}
		dirty := "0"
		if x.Dirty.Files > 0 {
			dirty = fmt.Sprintf("%d files, %s", x.Dirty.Files, humanBytes(x.Dirty.Bytes))
		}
		mark := "  " // a problem of this export is under Health
		if !x.Health.OK {
			mark = "! "
		}
		fmt.Fprintf(tw, "%s%s\t%s of %s\t%s\t%s\t%d\t%s %s\n", mark, cutLeft(x.Name, 20), humanBytes(x.Cache.UsedBytes), humanBytes(x.Cache.MaxBytes),
			pct(x.Cache.HitRate), dirty, x.Uploads.QueueOps, be, x.Backend.Name)
	}
	tw.Flush()
	for line := range strings.Lines(b.String()) {
		fmt.Fprintln(w, cut(strings.TrimRight(line, " \n"), 100))
	}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
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

func cmdFlush(args []string, stdout, stderr io.Writer) int {
	var wait bool
	var timeout time.Duration
	var export string
	c, pos, code := adminCommand("flush", args, stderr, 0, 1, "flush [--wait [--timeout D]] [PATH] [--export NAME] [--state DIR | --socket PATH]",
		func(fs *flag.FlagSet) {
			fs.BoolVar(&wait, "wait", false, "return only when everything at or below PATH is in the backend")
			fs.DurationVar(&timeout, "timeout", 0, "with --wait, give up after `DURATION` such as 10m (exit 1); 0: wait as long as it takes")
			exportFlag(&export)(fs)
		})
	if c == nil {
		return code
	}
	// No PATH: everything, of every export (or of --export's).
	p := ""
	if len(pos) == 1 {
		p = pos[0]
	}
	shown := shownPath(export, p)
	if !wait {
		var pr admin.Progress
		if err := c.callJSON("POST", "/v1/flush", map[string]any{"path": p, "export": export}, &pr); err != nil {
			return failed(stderr, err)
		}
		if pr.Done || pr.Files == 0 {
			fmt.Fprintf(stdout, "%s: nothing to upload\n", shown)
		} else {
			fmt.Fprintf(stdout, "%s: uploading %d files (%s) now; filegate flush --wait waits for them\n", shown, pr.Files, humanBytes(pr.Bytes))
		}
		return exitOK
	}
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	resp, err := c.callCtx(ctx, "POST", "/v1/flush", map[string]any{"path": p, "export": export, "wait": true})
	if err != nil {
		return failed(stderr, err)
	}
	defer resp.Body.Close()
	var last admin.Progress
	bar := newProgressBar(stdout, isTerminal(stdout))
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var p admin.Progress
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return failed(stderr, fmt.Errorf("bad progress line %q: %w", sc.Text(), err))
		}
		switch {
		case p.Error != "":
			bar.finish()
			return failed(stderr, fmt.Errorf("flush %s: %s (%d files, %s not uploaded)", shown, p.Error, p.Files, humanBytes(p.Bytes)))
		case p.Done:
			bar.finish()
			fmt.Fprintf(stdout, "%s: everything is in the backend\n", shown)
			return exitOK
		}
		bar.update(p)
		last = p
	}
	bar.finish()
	err = sc.Err()
	if ctx.Err() != nil {
		why := ""
		if last.LastError != "" {
			why = fmt.Sprintf("; %d backend changes failing, the last: %s", last.Failing, cut(last.LastError, 200))
		}
		return failed(stderr, fmt.Errorf("flush %s: not done after %s: %d files (%s) not uploaded yet%s",
			shown, timeout, last.Files, humanBytes(last.Bytes), why))
	}
	if err == nil {
		err = errors.New("the daemon closed the connection before the flush ended (did it stop?)")
	}
	return failed(stderr, fmt.Errorf("flush %s: %w", shown, err))
}

// progressBar draws flush progress: a bar redrawn in place on a
// terminal, a plain line per change otherwise.
type progressBar struct {
	w         io.Writer
	tty       bool
	first     admin.Progress
	started   bool
	drawn     bool
	lastPlain time.Time
	last      admin.Progress
}

func newProgressBar(w io.Writer, tty bool) *progressBar { return &progressBar{w: w, tty: tty} }

func (b *progressBar) update(p admin.Progress) {
	if !b.started {
		b.first, b.started = p, true
	}
	stuck := ""
	if p.Failing > 0 {
		stuck = fmt.Sprintf("; %d failing, last: %s", p.Failing, cut(p.LastError, 60))
	}
	if !b.tty {
		if p != b.last || time.Since(b.lastPlain) >= 10*time.Second {
			fmt.Fprintf(b.w, "flush: %d files, %s to upload%s\n", p.Files, humanBytes(p.Bytes), stuck)
			b.last, b.lastPlain = p, time.Now()
		}
		return
	}
	// Progress by bytes, or by files when no bytes are pending (renames,
	// deletes).
	frac := 1.0
	switch {
	case b.first.Bytes > 0:
		frac = 1 - float64(p.Bytes)/float64(b.first.Bytes)
	case b.first.Files > 0:
		frac = 1 - float64(p.Files)/float64(b.first.Files)
	}
	frac = min(max(frac, 0), 1)
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d files, %s to go%s\x1b[K", strings.Repeat("#", n), strings.Repeat("-", width-n),
		100*frac, p.Files, humanBytes(p.Bytes), cut(stuck, 40))
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.tty && b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
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
