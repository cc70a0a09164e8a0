package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startGanesha serves a folder of tmp holding the same two files with
// NFS-Ganesha's VFS back end on a free loopback port, when ganesha.nfsd
// is installed (it must run as root).
func startGanesha(tmp string) (feServer, error) {
	bin, err := exec.LookPath("ganesha.nfsd")
	if err != nil {
		return feServer{}, errors.New("ganesha.nfsd not installed (apt-get install nfs-ganesha nfs-ganesha-vfs)")
	}
	dir := filepath.Join(tmp, "ganesha")
	if err := os.MkdirAll(filepath.Join(dir, "export"), 0o755); err != nil {
		return feServer{}, err
	}
	for _, f := range []struct {
		name string
		size int
	}{{"seq.bin", feSeqBytes}, {"rand.bin", feRandBytes}} {
		buf := make([]byte, f.size)
		for i := 0; i < len(buf); i += 4096 {
			binary.BigEndian.PutUint64(buf[i:], uint64(i))
		}
		if err := os.WriteFile(filepath.Join(dir, "export", f.name), buf, 0o644); err != nil {
			return feServer{}, err
		}
	}
	// Two ports: Ganesha answers MOUNT only on a port of its own.
	var ports [2]int
	var ls []net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return feServer{}, err
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		l.Close()
	}
	port := ports[0]
	conf := fmt.Sprintf(`NFS_CORE_PARAM {
	NFS_Port = %d; MNT_Port = %d; Bind_addr = 127.0.0.1;
	Enable_NLM = false; Enable_RQUOTA = false; Protocols = 3;
}
EXPORT {
	Export_Id = 1; Path = %q; Pseudo = /export;
	Access_Type = RW; Squash = No_Root_Squash; SecType = sys;
	Protocols = 3; Transports = TCP;
	FSAL { Name = VFS; }
}
LOG { Default_Log_Level = WARN; }
`, port, ports[1], filepath.Join(dir, "export"))
	if err := os.WriteFile(filepath.Join(dir, "ganesha.conf"), []byte(conf), 0o644); err != nil {
		return feServer{}, err
	}
	// Ganesha will not start unless it can register with rpcbind: run
	// one for the benchmark if none answers on port 111.
	var stopRPCBind func()
	hint := ""
	if nc, err := net.DialTimeout("tcp", "127.0.0.1:111", time.Second); err == nil {
		nc.Close()
		hint = " (port 111 answers, but maybe not an rpcbind that takes registrations, such as a filegate serve's portmapper)"
	} else if rb, err := exec.LookPath("rpcbind"); err == nil {
		rcmd := exec.Command(rb, "-f", "-w")
		if err := rcmd.Start(); err != nil {
			return feServer{}, fmt.Errorf("rpcbind: %w", err)
		}
		stopRPCBind = func() { rcmd.Process.Kill(); rcmd.Wait() }
		time.Sleep(300 * time.Millisecond)
	} else {
		return feServer{}, errors.New("ganesha.nfsd needs rpcbind on port 111 (apt-get install rpcbind)")
	}
	cmd := exec.Command(bin, "-F", "-f", filepath.Join(dir, "ganesha.conf"), "-L", filepath.Join(dir, "ganesha.log"),
		"-p", filepath.Join(dir, "ganesha.pid"))
	if err := cmd.Start(); err != nil {
		if stopRPCBind != nil {
			stopRPCBind()
		}
		return feServer{}, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
		if stopRPCBind != nil {
			stopRPCBind()
		}
	}
	for i := 0; ; i++ {
		// Up once MOUNT answers (it may listen before its exports load).
		if _, err := mountAt(ports[1], filepath.Join(dir, "export")); err == nil {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "ganesha.log"))
			return feServer{}, fmt.Errorf("ganesha.nfsd exited (%v)%s: %s", err, hint, lastLines(string(log), 3))
		case <-time.After(100 * time.Millisecond):
		}
		if i == 300 {
			stop()
			return feServer{}, errors.New("ganesha.nfsd did not answer MOUNT within 30 s")
		}
	}
	export := filepath.Join(dir, "export")
	fill := func(name string, n int) error { return fillDiskFolder(filepath.Join(export, name), n) }
	return feServer{"NFS-Ganesha " + ganeshaVersion(bin), port, ports[1], export, stop, fill}, nil
}

// fillDiskFolder makes the folder path with n empty files named as
// bigName says, on the disk Ganesha exports.
func fillDiskFolder(path string, n int) error {
	if err := os.Mkdir(path, 0o755); err != nil {
		return err
	}
	for i := range n {
		if err := os.WriteFile(filepath.Join(path, bigName(i)), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func ganeshaVersion(bin string) string {
	out, _ := exec.Command(bin, "-v").Output()
	if _, v, ok := strings.Cut(string(out), "Release = "); ok {
		return strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
