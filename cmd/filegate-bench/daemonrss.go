package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	nfsc "github.com/willscott/go-nfs-client/nfs"
	"github.com/willscott/go-nfs-client/nfs/rpc"
)

// daemonRSS runs the real `filegate serve` as a child, writes and reads
// back a file of mib MiB through NFS, and returns the daemon's peak RSS
// (VmHWM): the figure the admin sees, without the bench's own buffers.
func daemonRSS(tmp string, mib int) (string, error) {
	bin := filepath.Join(tmp, "filegate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/filegate/filegate/cmd/filegate").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build filegate: %v: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command(bin, "serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--state", filepath.Join(tmp, "daemon"))
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	var client *rpc.Client
	for deadline := time.Now().Add(10 * time.Second); ; {
		if client, err = nfsc.DialServiceAtPort("127.0.0.1", port); err == nil {
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("daemon did not listen: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer client.Close()
	t, err := (&nfsc.Mount{Client: client}).Mount("/", rpc.AuthNull)
	if err != nil {
		return "", err
	}
	g := &nfsTarget{t: t}
	chunk := make([]byte, 1<<20)
	if err := g.writeFile("rss.bin", chunk, int64(mib)<<20); err != nil {
		return "", err
	}
	for range 2 {
		if _, err := g.readFile("rss.bin", chunk); err != nil {
			return "", err
		}
	}
	return vmHWM(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
}

// vmHWM reads the peak resident set size from a /proc status file.
func vmHWM(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return "", err
			}
			return fmt.Sprintf("%.0f MiB", float64(kb)/1024), nil
		}
	}
	return "", fmt.Errorf("no VmHWM in %s", path)
}
