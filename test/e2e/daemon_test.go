package e2e

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/filegate/filegate/internal/testutil"
)

// daemon runs the real `filegate serve` as a child process, on a fixed
// address and state folder, so it can be killed and started again.
type daemon struct {
	t       testing.TB
	addr    string
	state   string
	config  string
	env     []string
	logPath string

	cmd    *exec.Cmd
	exited chan struct{}
	err    error // cmd.Wait's, once exited is closed
	starts int
}

// newDaemon writes config (TOML) into a temporary folder and returns a
// daemon using it, not started. The state folder is dir/state; the log
// of every run is appended to dir/serve.log.
func newDaemon(t testing.TB, config string, env []string) *daemon {
	t.Helper()
	dir := t.TempDir()
	d := &daemon{
		t: t, state: filepath.Join(dir, "state"), config: filepath.Join(dir, "filegate.toml"),
		env: env, logPath: filepath.Join(dir, "serve.log"), addr: freeAddr(t),
	}
	if err := os.WriteFile(d.config, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.running() {
			d.kill()
		}
	})
	return d
}

// freeAddr returns a 127.0.0.1 address with a port free right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// start starts the daemon and waits until it accepts connections, which
// it does once the cache is open and recovered.
func (d *daemon) start() error {
	d.starts++
	logf, err := os.OpenFile(d.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "==== start %d at %s\n", d.starts, time.Now().Format("15:04:05.000"))
	cmd := exec.Command(filegateBin, "serve", "--listen", d.addr, "--state", d.state, "--config", d.config)
	cmd.Env = d.env
	// A file, not a pipe: no copying goroutine, and the log stays for a
	// look after a failure.
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies, the daemon goes too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	logf.Close()
	if err != nil {
		return fmt.Errorf("start filegate: %w", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func(exited chan struct{}) {
		d.err = cmd.Wait()
		close(exited)
	}(d.exited)
	accepting := testutil.Poll(30*time.Second, func() bool {
		if !d.running() {
			return true
		}
		c, err := net.DialTimeout("tcp", d.addr, 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	switch {
	case !d.running():
		return fmt.Errorf("filegate exited at start: %v\n%s", d.err, d.logTail(20))
	case !accepting:
		return fmt.Errorf("filegate not accepting on %s after 30 s\n%s", d.addr, d.logTail(20))
	}
	return nil
}

func (d *daemon) running() bool {
	if d.cmd == nil {
		return false
	}
	select {
	case <-d.exited:
		return false
	default:
		return true
	}
}

// kill sends SIGKILL and waits for the process to go.
func (d *daemon) kill() {
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
}

// stop sends SIGTERM and waits up to timeout for a clean exit; it
// returns an error unless the daemon exited with status 0.
func (d *daemon) stop(timeout time.Duration) error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(timeout):
		d.kill()
		return fmt.Errorf("filegate still running %v after SIGTERM", timeout)
	}
	if d.err != nil {
		var ee *exec.ExitError
		if errors.As(d.err, &ee) {
			return fmt.Errorf("filegate exited with %v after SIGTERM\n%s", ee, d.logTail(20))
		}
		return d.err
	}
	return nil
}

// logTail returns the last n lines of the daemon's log.
func (d *daemon) logTail(n int) string {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	l := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return "\t" + strings.Join(l[max(0, len(l)-n):], "\n\t")
}

// dial mounts the daemon, retrying for a while: it may be starting.
func (d *daemon) dial() (*nfsClient, error) {
	var c *nfsClient
	var err error
	if testutil.Poll(5*time.Second, func() bool { c, err = mount(d.addr); return err == nil }) {
		return c, nil
	}
	return nil, fmt.Errorf("mount %s: %w", d.addr, err)
}
