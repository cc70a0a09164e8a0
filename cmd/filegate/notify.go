package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// notifier speaks systemd's notify protocol (sd_notify(3)): datagrams
// such as "READY=1" to the unix socket named by $NOTIFY_SOCKET. A name
// starting with "@" is in the abstract namespace; Go's net package maps
// the "@" to the leading NUL byte itself. Without $NOTIFY_SOCKET (not
// run by systemd, or Type=simple) every send does nothing.
type notifier struct {
	addr *net.UnixAddr
	// watchdog is WatchdogSec as systemd passed it ($WATCHDOG_USEC, for
	// this process per $WATCHDOG_PID); zero when off.
	watchdog time.Duration

	mu       sync.Mutex
	conn     *net.UnixConn
	stopping bool // STOPPING=1 was sent: STATUS says so
}

// newNotifier reads the environment systemd sets.
func newNotifier() *notifier {
	n := &notifier{}
	if p := os.Getenv("NOTIFY_SOCKET"); p != "" {
		n.addr = &net.UnixAddr{Name: p, Net: "unixgram"}
	}
	if us, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64); err == nil && us > 0 {
		pid := os.Getenv("WATCHDOG_PID")
		if pid == "" || pid == strconv.Itoa(os.Getpid()) {
			n.watchdog = time.Duration(us) * time.Microsecond
		}
	}
	return n
}

// enabled reports whether there is a socket to notify.
func (n *notifier) enabled() bool { return n.addr != nil }

// send sends one message, such as "READY=1" or "STATUS=...".
func (n *notifier) send(msg string) error {
	if n.addr == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if strings.HasPrefix(msg, "STOPPING=1") {
		n.stopping = true
	}
	if n.conn == nil {
		c, err := net.DialUnix("unixgram", nil, n.addr)
		if err != nil {
			return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
		}
		n.conn = c
	}
	if _, err := n.conn.Write([]byte(msg)); err != nil {
		n.conn.Close()
		n.conn = nil
		return fmt.Errorf("sd_notify %s: %w", n.addr.Name, err)
	}
	return nil
}

func (n *notifier) close() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conn != nil {
		n.conn.Close()
		n.conn = nil
	}
}

// statusEvery is how often STATUS= is refreshed.
const statusEvery = 5 * time.Second

// notifyLoop sends STATUS= every statusEvery and, when systemd asked for
// a watchdog, WATCHDOG=1 every half of its interval, as long as status
// answers (it reads the cache's state, so a hung cache stops the pings
// and systemd restarts the daemon). It runs until stop, through the
// shutdown flush.
type notifyLoop struct {
	n    *notifier
	done chan struct{}
	wg   sync.WaitGroup
}

// startNotifyLoop starts the loop; status returns the STATUS= line.
func startNotifyLoop(n *notifier, every time.Duration, status func() string) *notifyLoop {
	l := &notifyLoop{n: n, done: make(chan struct{})}
	if !n.enabled() {
		return l
	}
	if n.watchdog > 0 {
		every = min(every, n.watchdog/2)
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			line := status()
			n.mu.Lock()
			if n.stopping {
				line = "stopping, uploading what is pending: " + line
			}
			n.mu.Unlock()
			msg := "STATUS=" + line
			if n.watchdog > 0 {
				msg += "\nWATCHDOG=1"
			}
			_ = n.send(msg) // systemd gone: nothing to tell
			select {
			case <-l.done:
				return
			case <-t.C:
			}
		}
	}()
	return l
}

// stop ends the loop and waits for it.
func (l *notifyLoop) stop() {
	select {
	case <-l.done:
	default:
		close(l.done)
	}
	l.wg.Wait()
}
