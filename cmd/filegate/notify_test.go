package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// notifySocket listens on a unixgram socket as systemd does and returns
// its NOTIFY_SOCKET name and the messages received, one assignment each.
func notifySocket(t *testing.T, abstract bool) (string, <-chan string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "notify.sock")
	if abstract {
		name = fmt.Sprintf("@filegate-test-%d-%d", os.Getpid(), time.Now().UnixNano())
	}
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ch := make(chan string, 1000)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			if err != nil {
				close(ch)
				return
			}
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				ch <- line
			}
		}
	}()
	return name, ch
}

func TestNotifyProtocol(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(fmt.Sprintf("abstract=%v", abstract), func(t *testing.T) {
			name, ch := notifySocket(t, abstract)
			t.Setenv("NOTIFY_SOCKET", name)
			t.Setenv("WATCHDOG_USEC", "100000") // 100 ms: ping every 50 ms
			t.Setenv("WATCHDOG_PID", fmt.Sprint(os.Getpid()))
			n := newNotifier()
			if !n.enabled() || n.watchdog != 100*time.Millisecond {
				t.Fatalf("notifier %+v", n)
			}
			if err := n.send("READY=1"); err != nil {
				t.Fatal(err)
			}
			var got []string
			timeout := time.After(5 * time.Second)
			next := func(want string) string {
				select {
				case m, ok := <-ch:
					if !ok {
						t.Fatalf("got %q, then the socket closed before %s", got, want)
					}
					got = append(got, m)
					return m
				case <-timeout:
					t.Fatalf("got %q, no %s", got, want)
					return ""
				}
			}
			loop := startNotifyLoop(n, time.Hour, func() string { return "2 clients, 0 dirty files" })
			// A second ping comes only if the watchdog interval, not the
			// hour asked for STATUS, paces the loop.
			for pings := 0; pings < 2; {
				if next("second WATCHDOG=1") == "WATCHDOG=1" {
					pings++
				}
			}
			loop.stop()
			if err := n.send("STOPPING=1"); err != nil {
				t.Fatal(err)
			}
			n.close()
			for next("STOPPING=1") != "STOPPING=1" {
			}
			if got[0] != "READY=1" {
				t.Errorf("first message %q, want READY=1", got[0])
			}
			var status, watchdog int
			for _, m := range got[1 : len(got)-1] {
				switch m {
				case "STATUS=2 clients, 0 dirty files":
					status++
				case "WATCHDOG=1":
					watchdog++
				default:
					t.Errorf("unexpected message %q", m)
				}
			}
			if status < 2 || watchdog < 2 {
				t.Errorf("%d STATUS and %d WATCHDOG in %q", status, watchdog, got)
			}
		})
	}
}

func TestNotifyOff(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	n := newNotifier()
	if n.enabled() || n.send("READY=1") != nil {
		t.Error("a notifier without NOTIFY_SOCKET sends")
	}
	startNotifyLoop(n, time.Millisecond, func() string { t.Error("status asked"); return "" }).stop()
	// A watchdog meant for another process is ignored.
	t.Setenv("WATCHDOG_USEC", "1000000")
	t.Setenv("WATCHDOG_PID", "1")
	if newNotifier().watchdog != 0 {
		t.Error("watchdog of another pid taken")
	}
}
