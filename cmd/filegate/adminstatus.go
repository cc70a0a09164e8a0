package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/filegate/filegate/gateway/admin"
)

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

// fmtDur formats d briefly: "45s", "12m05s", "3h12m", "2d4h".
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
