package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/filegate/filegate/gateway/admin"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
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
