package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSystemdUnit checks systemd/filegate.service with systemd-analyze
// verify (ExecStart pointed at a built binary, since the installed one
// need not exist), and the settings the daemon relies on.
func TestSystemdUnit(t *testing.T) {
	unit, err := os.ReadFile("../../systemd/filegate.service")
	if err != nil {
		t.Fatal(err)
	}
	text := string(unit)
	for _, want := range []string{"Type=notify", "NotifyAccess=main", "WatchdogSec=", "ExecReload=/bin/kill -HUP $MAINPID",
		"StateDirectory=filegate", "CacheDirectory=filegate", "ProtectSystem=strict", "NoNewPrivileges=yes", "PrivateTmp=yes",
		"ReadWritePaths=/var/lib/filegate /var/cache/filegate", "CapabilityBoundingSet=",
		"ExecStart=/usr/local/bin/filegate serve --config /etc/filegate/filegate.toml --state /var/lib/filegate"} {
		if !strings.Contains(text, "\n"+want) {
			t.Errorf("unit lacks %q", want)
		}
	}
	m := regexp.MustCompile(`\nTimeoutStopSec=(\d+)\n`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("unit lacks TimeoutStopSec")
	}
	if stop, _ := strconv.Atoi(m[1]); time.Duration(stop)*time.Second < flushTimeout+15*time.Second {
		t.Errorf("TimeoutStopSec=%s leaves too little beyond the %s shutdown flush", m[1], flushTimeout)
	}
	m = regexp.MustCompile(`\nWatchdogSec=(\d+)s\n`).FindStringSubmatch(text)
	if wd, _ := strconv.Atoi(m[1]); time.Duration(wd)*time.Second < 2*statusEvery {
		t.Errorf("WatchdogSec=%ss is under twice the %s ping", m[1], statusEvery)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("FILEGATE_TEST_NO_SKIP") != "" {
			t.Fatal("systemd-analyze not found (apt-get install systemd)")
		}
		t.Skip("systemd-analyze not found (apt-get install systemd)")
	}
	bin := filegateBinary(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "filegate.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/usr/local/bin/filegate", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
