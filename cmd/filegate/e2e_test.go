package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"

	"github.com/filegate/filegate/gateway/admin"
	"github.com/filegate/filegate/internal/testutil"
)

// The end-to-end test: the real binary's `serve` on 127.0.0.1:0 with a
// temporary state folder, driven by the admin verbs (in process, through
// run), an NFS client, a metrics scrape, SIGHUP and SIGTERM.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func filegateBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "filegate-e2e-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "filegate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// daemon is a running `filegate serve`.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	state  string
	config string
	log    *os.File
	notify <-chan string
	exited chan error
}

func (d *daemon) logText() string {
	b, _ := os.ReadFile(d.log.Name())
	return string(b)
}

// waitLog waits for a log line matching re and returns its submatches.
func (d *daemon) waitLog(re string) []string {
	d.t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	if !testutil.Poll(20*time.Second, func() bool { m = rx.FindStringSubmatch(d.logText()); return m != nil }) {
		d.t.Fatalf("no log line matching %q in:\n%s", re, d.logText())
	}
	return m
}

// waitNotify waits for the notify message want.
func (d *daemon) waitNotify(want string) {
	d.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case m, ok := <-d.notify:
			if !ok {
				d.t.Fatalf("notify socket closed before %q", want)
			}
			if m == want {
				return
			}
		case <-timeout:
			d.t.Fatalf("no %q from the daemon; log:\n%s", want, d.logText())
		}
	}
}

const e2eConfig = `
[cache]
upload_delay = "1h"
[metrics]
listen = "127.0.0.1:0"
[[limits]]
days = "mon-sun"
upload = "%s"
`

func startDaemon(t *testing.T, extraConfig ...string) *daemon {
	t.Helper()
	bin := filegateBinary(t)
	d := &daemon{t: t, state: filepath.Join(t.TempDir(), "state"), exited: make(chan error, 1)}
	d.config = filepath.Join(t.TempDir(), "filegate.toml")
	if err := os.WriteFile(d.config, []byte(strings.Join(extraConfig, "")+fmt.Sprintf(e2eConfig, "64MiB")), 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if d.log, err = os.Create(filepath.Join(t.TempDir(), "log")); err != nil {
		t.Fatal(err)
	}
	sock, ch := notifySocket(t, false)
	d.notify = ch
	d.cmd = exec.Command(bin, "serve", "--config", d.config, "--listen", "127.0.0.1:0", "--state", d.state)
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000", "JOURNAL_STREAM=")
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.exited <- d.cmd.Wait() }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.exited
		d.log.Close()
	})
	d.waitNotify("READY=1")
	return d
}

// verb runs an admin verb in process against d and returns its exit
// status and output.
func (d *daemon) verb(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(append(args, "--state", d.state), &out, &errb)
	return code, out.String(), errb.String()
}

// mount dials the daemon's NFS port and mounts export as auth; the
// connection closes when the test ends.
func (d *daemon) mount(export string, auth rpc.Auth) (*nfsc.Target, *rpc.Client) {
	t := d.t
	t.Helper()
	addr, err := net.ResolveTCPAddr("tcp", d.status().Exports[0].Listen)
	if err != nil {
		t.Fatal(err)
	}
	c, err := nfsc.DialServiceAtPort(addr.IP.String(), addr.Port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	target, err := (&nfsc.Mount{Client: c}).Mount(export, auth)
	if err != nil {
		t.Fatalf("mount %s: %v", export, err)
	}
	return target, c
}

// waitCleanExit waits for serve to exit after a SIGTERM and fails the
// test unless it exited with status 0. The exit stays in d.exited for
// the cleanup's wait.
func (d *daemon) waitCleanExit() {
	d.t.Helper()
	select {
	case err := <-d.exited:
		d.exited <- err
		if err != nil {
			d.t.Fatalf("serve exited with %v; log:\n%s", err, d.logText())
		}
	case <-time.After(30 * time.Second):
		d.t.Fatal("serve did not stop within 30s")
	}
}

func (d *daemon) status() admin.Status {
	d.t.Helper()
	code, out, errs := d.verb("status", "--json")
	var s admin.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		d.t.Fatalf("status --json: exit %d, %v: %s %s", code, err, out, errs)
	}
	if (code == 0) != s.Health.OK {
		d.t.Errorf("status exit %d with health %+v", code, s.Health)
	}
	return s
}

// wantMetrics scrapes d's metrics and fails the test for each of wants
// (a line or the start of one) they lack.
func (d *daemon) wantMetrics(wants ...string) {
	d.t.Helper()
	m := d.waitLog(`msg="serving metrics" addr=([0-9.:]+)`)
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		d.t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range wants {
		if !bytes.Contains(metrics, []byte(want)) {
			d.t.Errorf("metrics lack %s", want)
		}
	}
}

func TestEndToEnd(t *testing.T) {
	d := startDaemon(t)

	s := d.status()
	if !s.Health.OK || len(s.Exports) != 1 || s.Exports[0].Name != "/" || !s.Exports[0].Backend.Probed || !s.Exports[0].Backend.Reachable ||
		s.Limits.UploadBytesPerSec != 64<<20 || s.Limits.Rule != "mon-sun" || s.PID != d.cmd.Process.Pid {
		t.Fatalf("status: %+v", s)
	}
	code, out, _ := d.verb("status")
	if code != 0 || !strings.Contains(out, "Health:   OK") || !strings.Contains(out, "Limits:   upload 64.0 MiB/s") ||
		strings.Count(out, "\n") > 24 {
		t.Errorf("status: exit %d:\n%s", code, out)
	}

	// Write through NFS: the file stays dirty (upload_delay 1h) until
	// flush --wait puts it in the backend.
	target, c := d.mount("/", rpc.AuthNull)
	if _, err := target.Mkdir("docs", 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := target.OpenFile("docs/a.txt", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	body := bytes.Repeat([]byte("filegate "), 10000)
	if _, err := f.Write(body); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s := d.status(); s.Dirty.Files != 1 || s.Dirty.Bytes != int64(len(body)) || len(s.Clients) != 1 || s.Clients[0].Since.IsZero() {
		t.Errorf("after the write: dirty %+v, clients %+v", s.Dirty, s.Clients)
	}
	backendFile := filepath.Join(d.state, "backend", "docs", "a.txt")
	if _, err := os.Stat(backendFile); err == nil {
		t.Fatal("uploaded before the flush")
	}
	code, out, errs := d.verb("flush", "/docs", "--wait")
	if code != 0 || !strings.Contains(out, "/docs: everything is in the backend") {
		t.Fatalf("flush --wait: exit %d: %s %s", code, out, errs)
	}
	if got, err := os.ReadFile(backendFile); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("backend has %d bytes, %v; want %d", len(got), err, len(body))
	}
	if s := d.status(); s.Dirty.Files != 0 || s.Exports[0].Backend.BytesUp < int64(len(body)) {
		t.Errorf("after the flush: dirty %+v, backend %+v", s.Dirty, s.Exports[0].Backend)
	}

	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"pin", "docs/a.txt"}, 0, "/docs/a.txt: 1 files (87.9 KiB) pinned"},
		{[]string{"unpin", "/docs"}, 0, "/docs: 1 files unpinned"},
		{[]string{"evict", "/docs/a.txt"}, 0, "/docs/a.txt: 1 files (87.9 KiB) evicted"},
		{[]string{"refresh", "/docs"}, 0, "/docs: listed again"},
		{[]string{"evict", "/nope"}, 1, "/nope: no such file or directory in the export"},
		{[]string{"loglevel"}, 0, "info"},
		{[]string{"loglevel", "debug"}, 0, "debug"},
		{[]string{"loglevel", "loud"}, 2, "want debug, info, warn or error"},
		{[]string{"pin"}, 2, "Usage: filegate pin PATH"},
		{[]string{"flush"}, 0, "/: nothing to upload"},
	} {
		code, out, errs := d.verb(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.out) {
			t.Errorf("%v: exit %d, %q %q; want %d with %q", tt.args, code, out, errs, tt.code, tt.out)
		}
	}
	// The evicted file reads back from the backend through NFS.
	rf, err := target.Open("docs/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rf)
	rf.Close()
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("read back after evict: %d bytes, %v", len(got), err)
	}

	// Metrics.
	d.wantMetrics(
		`filegate_rpc_calls_total{proc="WRITE",program="nfs"}`,
		`filegate_rpc_duration_seconds_bucket{proc="LOOKUP",program="nfs",le="+Inf"}`,
		`filegate_backend_up{export="/"} 1`, `filegate_cache_hit_ratio{export="/"}`, `filegate_dirty_ratio{export="/"} 0`,
		`filegate_limit_upload_bytes_per_second 6.7108864e+07`, `filegate_backend_sent_bytes_total{export="/"} 90000`,
		`filegate_upload_queue_ops{export="/"} 0`, `filegate_nfs_clients 1`,
	)

	// SIGHUP: the limit and log level change live; the metrics address
	// needs a restart and says so.
	newCfg := strings.Replace(fmt.Sprintf(e2eConfig, "1MiB"), `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:1"`, 1) + "[log]\nlevel = \"warn\"\n"
	if err := os.WriteFile(d.config, []byte(newCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	d.waitLog(`reload: these settings change only at a restart.*keys=metrics.listen`)
	if s := d.status(); s.Limits.UploadBytesPerSec != 1<<20 || s.LogLevel != "warn" {
		t.Errorf("after SIGHUP: limits %+v, level %s", s.Limits, s.LogLevel)
	}

	// SIGTERM: STOPPING=1, a clean exit, the socket gone.
	c.Close()
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitNotify("STOPPING=1")
	d.waitCleanExit()
	if _, err := os.Stat(filepath.Join(d.state, "admin.sock")); err == nil {
		t.Error("admin socket left behind")
	}
	code, _, errs = d.verb("status")
	if code != exitNotRunning || !strings.Contains(errs, "filegate is not running (no socket at "+d.state+"/admin.sock): start it with systemctl start filegate or filegate serve") {
		t.Errorf("status of a stopped daemon: exit %d, %q", code, errs)
	}
}

func TestStatusWithoutDaemon(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	code := run([]string{"status", "--state", dir}, &out, &errb)
	if code != exitNotRunning || !strings.Contains(errb.String(), "filegate is not running (no socket at "+dir+"/admin.sock)") {
		t.Errorf("exit %d, %q", code, errb.String())
	}
	// A socket file nobody answers on.
	sock := filepath.Join(dir, "admin.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	errb.Reset()
	code = run([]string{"flush", "--wait", "--socket", sock}, &out, &errb)
	if code != exitNotRunning || !strings.Contains(errb.String(), "nothing answers on "+sock) {
		t.Errorf("exit %d, %q", code, errb.String())
	}
}

func TestProgressBar(t *testing.T) {
	var b bytes.Buffer
	bar := newProgressBar(&b, true)
	bar.update(admin.Progress{Files: 4, Bytes: 400})
	bar.update(admin.Progress{Files: 2, Bytes: 100})
	bar.finish()
	if !strings.Contains(b.String(), "[----------") || !strings.Contains(b.String(), "\r[######################--------]  75%  2 files, 100 B to go") {
		t.Errorf("terminal bar: %q", b.String())
	}
	b.Reset()
	bar = newProgressBar(&b, false)
	bar.update(admin.Progress{Files: 4, Bytes: 400})
	bar.update(admin.Progress{Files: 4, Bytes: 400})
	bar.update(admin.Progress{Files: 1, Bytes: 10})
	sc := bufio.NewScanner(&b)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || lines[1] != "flush: 1 files, 10 B to upload" {
		t.Errorf("plain lines: %q", lines)
	}
}

// TestEndToEndNFSD: status and metrics see the NFS server's clients
// and RPCs.
func TestEndToEndNFSD(t *testing.T) {
	d := startDaemon(t, "[server]\nsquash = \"none\"\nportmap = false\n")
	target, _ := d.mount("/", rpc.NewAuthUnix("e2e", 0, 0).Auth())
	f, err := target.OpenFile("n.txt", 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("via nfsd")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if s := d.status(); len(s.Clients) != 1 || s.Dirty.Files != 1 {
		t.Errorf("clients %+v, dirty %+v", s.Clients, s.Dirty)
	}
	if code, out, errs := d.verb("flush", "--wait"); code != 0 {
		t.Fatalf("flush --wait: %d %s %s", code, out, errs)
	}
	if got, err := os.ReadFile(filepath.Join(d.state, "backend", "n.txt")); err != nil || string(got) != "via nfsd" {
		t.Fatalf("backend n.txt = %q, %v", got, err)
	}
	d.wantMetrics(`filegate_rpc_calls_total{proc="WRITE",program="nfs"} 1`, `filegate_rpc_calls_total{proc="MNT",program="mount"} 1`, `filegate_nfs_clients 1`)
}

// TestStatusFitsOneScreen: the worst case (unhealthy, many clients,
// many failing files, long errors) still fits 24 lines of 100 columns,
// with one export and with four.
func TestStatusFitsOneScreen(t *testing.T) {
	now := time.Now()
	hit := 0.975
	export := func(name string) admin.ExportStatus {
		return admin.ExportStatus{Name: name, Listen: "0.0.0.0:2049",
			Backend: admin.BackendStatus{Name: "s3://office-files/" + strings.Repeat("p", 120), Probed: true, ProbeError: strings.Repeat("dial tcp: timeout ", 20),
				LastProbe: now, LastError: strings.Repeat("x", 300), LastErrorAt: now},
			Cache: admin.CacheStatus{UsedBytes: 40 << 30, MaxBytes: 100 << 30, HitRate: &hit, ByteHitRate: &hit, Reads: 123456},
			Dirty: admin.DirtyStatus{Files: 1200, Bytes: 7 << 30, LimitBytes: 8 << 30, OldestSeconds: 7200},
			Health: admin.Health{Problems: []string{"backend unreachable: " + strings.Repeat("y", 200), "3 backend change(s) failing",
				"dirty data at 88% of the dirty limit (over 80%)", "a file has waited 2h0m0s for its upload (over 1h0m0s)"}},
		}
	}
	for _, names := range [][]string{{"/"}, {"/office", "/projects", "/" + strings.Repeat("archive", 10), "/scans"}} {
		s := admin.Status{Version: "filegate v1.0.0 go1.26.8 linux/amd64", PID: 4242, UptimeSeconds: 3 * 86400,
			Limits: admin.LimitsStatus{UploadBytesPerSec: 2 << 20, Rule: "mon-fri 08:00-18:00"}}
		for _, n := range names {
			x := export(n)
			s.Exports = append(s.Exports, x)
			for _, p := range x.Health.Problems {
				if len(names) > 1 {
					p = n + ": " + p
				}
				s.Health.Problems = append(s.Health.Problems, p)
			}
		}
		for i := range 50 {
			s.Clients = append(s.Clients, admin.ClientStatus{Addr: fmt.Sprintf("10.0.0.%d:812", i), Since: now})
			s.Failing = append(s.Failing, admin.Failing{Export: names[0], Path: names[0] + strings.Repeat("d/", 60) + "f.txt", Op: "put", Error: strings.Repeat("e", 200), Attempts: 9, Since: now})
		}
		var b bytes.Buffer
		printStatus(&b, s, now)
		lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
		if len(lines) > 24 {
			t.Errorf("%d exports: %d lines:\n%s", len(names), len(lines), b.String())
		}
		for _, l := range lines {
			if n := len([]rune(l)); n > 110 {
				t.Errorf("%d exports: line of %d columns: %q", len(names), n, l)
			}
		}
		if !strings.Contains(b.String(), "UNHEALTHY") || !strings.Contains(b.String(), "and 45 more") || !strings.Contains(b.String(), "and 47 more") {
			t.Errorf("status:\n%s", b.String())
		}
		if len(names) > 1 {
			for _, n := range names {
				if !strings.Contains(b.String(), "! "+cutLeft(n, 20)+" ") {
					t.Errorf("no line of export %s:\n%s", n, b.String())
				}
			}
			if !strings.Contains(b.String(), "and 11 more (filegate status --json lists all)") {
				t.Errorf("health problems not cut:\n%s", b.String())
			}
		}
	}
}

// TestEndToEndNFSDRootSquash: with the default root_squash, the root of a
// fresh state folder is 1777, so the squashed root and a user can both
// create there, each owning their file, and neither can remove the
// other's.
func TestEndToEndNFSDRootSquash(t *testing.T) {
	d := startDaemon(t, "[server]\nanonuid = 4000\nanongid = 4000\nportmap = false\n")
	mount := func(uid uint32) *nfsc.Target {
		target, _ := d.mount("/", rpc.NewAuthUnix("e2e", uid, uid).Auth())
		return target
	}
	root, user := mount(0), mount(1000)
	fi, _, err := root.Lookup("/")
	if err != nil || fi.(*nfsc.Fattr).FileMode&0o7777 != 0o1777 {
		t.Fatalf("export root: %+v, %v; want mode 1777", fi, err)
	}
	for _, c := range []struct {
		t    *nfsc.Target
		name string
		uid  uint32
	}{{root, "r.txt", 4000}, {user, "u.txt", 1000}} {
		f, err := c.t.OpenFile(c.name, 0o644)
		if err != nil {
			t.Fatalf("create %s: %v", c.name, err)
		}
		f.Close()
		fi, _, err := c.t.Lookup(c.name)
		if err != nil || fi.(*nfsc.Fattr).UID != c.uid {
			t.Errorf("%s: owner %+v, %v; want %d", c.name, fi, err, c.uid)
		}
	}
	if err := user.Remove("r.txt"); err == nil {
		t.Error("uid 1000 removed the squashed root's file in a sticky folder")
	}
	if err := root.Remove("u.txt"); err == nil {
		t.Error("the squashed root removed uid 1000's file in a sticky folder")
	}
}

// Two [[exports]]: each mounts, each has its own cache and backend under
// STATE_DIR/exports; status, the admin verbs and the metrics see both;
// the shutdown flush uploads both.
func TestEndToEndExports(t *testing.T) {
	d := startDaemon(t, "[server]\nportmap = false\n"+
		"[[exports]]\nname = \"/office\"\nsquash = \"none\"\n[[exports]]\nname = \"/projects\"\nsquash = \"none\"\n")
	s := d.status()
	if len(s.Exports) != 2 || s.Exports[0].Name != "/office" || s.Exports[1].Name != "/projects" ||
		s.Exports[1].Backend.Name != filepath.Join(d.state, "exports", "projects", "backend") {
		t.Fatalf("status exports %+v", s.Exports)
	}
	mount := func(name string) *nfsc.Target {
		tg, _ := d.mount(name, rpc.NewAuthUnix("e2e", 0, 0).Auth())
		return tg
	}
	office, projects := mount("/office"), mount("/projects")
	write := func(tg *nfsc.Target, name string) {
		t.Helper()
		f, err := tg.OpenFile(name, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(name)); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	write(office, "o.txt")
	write(projects, "p.txt")
	if _, _, err := projects.Lookup("o.txt"); err == nil {
		t.Error("o.txt of /office found in /projects")
	}
	backendOf := func(export, name string) string {
		return filepath.Join(d.state, "exports", export, "backend", name)
	}

	// Both probed (the first probe runs at start), both dirty.
	testutil.Poll(20*time.Second, func() bool {
		s = d.status()
		return s.Exports[0].Backend.Probed && s.Exports[1].Backend.Probed
	})
	if !s.Health.OK || !s.Exports[1].Backend.Reachable || s.Exports[0].Dirty.Files != 1 || s.Exports[1].Dirty.Files != 1 || s.Dirty.Files != 2 {
		t.Errorf("status: health %+v, exports %+v, dirty %+v", s.Health, s.Exports, s.Dirty)
	}
	code, out, _ := d.verb("status")
	if code != 0 || !strings.Contains(out, "Exports:  2 on ") || !strings.Contains(out, "  /office ") ||
		!strings.Contains(out, "  /projects ") || strings.Count(out, "\n") > 24 {
		t.Errorf("status: exit %d:\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"flush", "/office", "--wait"}, 0, "/office: everything is in the backend"},
		{[]string{"evict", "/office/o.txt"}, 0, "/office/o.txt: 1 files (5 B) evicted"},
		{[]string{"pin", "o.txt", "--export", "/office"}, 0, "/office/o.txt: 1 files (5 B) pinned"},
		{[]string{"unpin", "office/o.txt"}, 0, "/office/o.txt: 1 files unpinned"},
		{[]string{"refresh", "/"}, 0, "/: listed again"},
		{[]string{"pin", "/o.txt"}, 1, "/o.txt is in no export: give the export's name first, such as /office/o.txt (the exports: /office, /projects)"},
		{[]string{"evict", "o.txt", "--export", "/archive"}, 1, "no export /archive"},
	} {
		code, out, errs := d.verb(tt.args...)
		if code != tt.code || !strings.Contains(out+errs, tt.out) {
			t.Errorf("%v: exit %d, %q %q; want %d with %q", tt.args, code, out, errs, tt.code, tt.out)
		}
	}
	if _, err := os.Stat(backendOf("office", "o.txt")); err != nil {
		t.Errorf("flush /office: %v", err)
	}
	if _, err := os.Stat(backendOf("projects", "p.txt")); err == nil {
		t.Error("flush /office uploaded /projects/p.txt")
	}
	if code, out, errs := d.verb("flush", "--wait"); code != 0 || !strings.Contains(out, "/: everything is in the backend") {
		t.Errorf("flush --wait of everything: exit %d, %q %q", code, out, errs)
	}
	if got, err := os.ReadFile(backendOf("projects", "p.txt")); err != nil || string(got) != "p.txt" {
		t.Errorf("flush of everything: projects p.txt = %q, %v", got, err)
	}

	d.wantMetrics(`filegate_dirty_files{export="/office"} 0`, `filegate_dirty_files{export="/projects"} 0`,
		`filegate_uploads_total{export="/projects"} 1`, `filegate_backend_up{export="/office"} 1`, `filegate_backend_up{export="/projects"} 1`,
		`filegate_cache_size_bytes{export="/projects"}`, `filegate_cache_db_commits_total{export="/office"}`,
		`filegate_cache_data_syncs_total{export="/projects"}`, `filegate_nfs_clients 2`)

	// Written after the flushes: the shutdown flush uploads them.
	write(office, "o2.txt")
	write(projects, "p2.txt")
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.waitCleanExit()
	for _, f := range [][2]string{{"office", "o2.txt"}, {"projects", "p2.txt"}} {
		if got, err := os.ReadFile(backendOf(f[0], f[1])); err != nil || string(got) != f[1] {
			t.Errorf("backend of %s: %s = %q, %v", f[0], f[1], got, err)
		}
		if _, err := os.Stat(filepath.Join(d.state, "exports", f[0], "cache", "namespace.db")); err != nil {
			t.Errorf("cache of %s: %v", f[0], err)
		}
	}
	for _, name := range []string{"o.txt", "o2.txt"} {
		if _, err := os.Stat(backendOf("projects", name)); err == nil {
			t.Errorf("%s uploaded to the backend of /projects", name)
		}
	}
}

// TestServeRelativeStateDir starts the daemon as the README's quick start
// does: no --state, so ./filegate-data relative to the working folder.
func TestServeRelativeStateDir(t *testing.T) {
	bin := filegateBinary(t)
	wd := t.TempDir()
	cfg := filepath.Join(wd, "filegate.toml")
	if err := os.WriteFile(cfg, []byte("[server]\nportmap = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock, ch := notifySocket(t, false)
	cmd := exec.Command(bin, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	cmd.Dir = wd
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "JOURNAL_STREAM=")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err // for the deferred wait
			t.Fatalf("serve exited (%v) before READY:\n%s", err, out.String())
		case msg, ok := <-ch:
			if !ok {
				ch = nil
				continue
			}
			if !strings.Contains(msg, "READY=1") {
				continue
			}
			if _, err := os.Stat(filepath.Join(wd, "filegate-data", "backend")); err != nil {
				t.Fatalf("embedded backend folder: %v", err)
			}
			return
		case <-deadline:
			t.Fatalf("no READY after 20 s:\n%s", out.String())
		}
	}
}
