package nfsd

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/internal/testutil"
)

// needTool returns the path of a command-line tool, skipping the test
// when it is missing, unless FILEGATE_TEST_NO_SKIP=1 (CI installs them:
// nfs-common, rpcbind, libnfs-utils).
func needTool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("FILEGATE_TEST_NO_SKIP") == "1" {
			t.Fatalf("%s not installed (apt-get install %s); FILEGATE_TEST_NO_SKIP=1 forbids skipping", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pmapUDP sends one portmapper v2 call over UDP and returns the reply's
// result words.
func pmapUDP(t *testing.T, addr net.Addr, vers, proc uint32, args ...uint32) reply {
	t.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := encoder{}
	for _, v := range append([]uint32{7, msgCall, rpcVersion, progPortmap, vers, proc, 0, 0, 0, 0}, args...) {
		e.uint32(v)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write(e.b); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parseReply(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPortmapAnswers(t *testing.T) {
	pm, err := StartPortmap(context.Background(), PortmapConfig{Addr: "127.0.0.1:0", Port: 2049, Logger: testutil.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	if pm.Mode() != PortmapServing {
		t.Fatalf("mode %s", pm.Mode())
	}
	addr := pm.udp.LocalAddr()
	for _, tc := range []struct {
		prog, vers, prot, want uint32
	}{
		{progNFS, 3, ipprotoTCP, 2049}, {progMount, 3, ipprotoTCP, 2049}, {progMount, 1, ipprotoTCP, 2049},
		{progNFS, 3, ipprotoUDP, 0}, {progNFS, 2, ipprotoTCP, 0}, {progNLM, 4, ipprotoTCP, 0},
		{progPortmap, 2, ipprotoUDP, PortmapPort},
	} {
		r := pmapUDP(t, addr, 2, pmapProcGetport, tc.prog, tc.vers, tc.prot, 0)
		if r.accept != acceptSuccess || r.d.uint32() != tc.want {
			t.Errorf("GETPORT %d v%d prot %d: accept %d, want port %d", tc.prog, tc.vers, tc.prot, r.accept, tc.want)
		}
	}
	r := pmapUDP(t, addr, 2, pmapProcDump)
	n := 0
	for r.d.bool() {
		r.d.uint32()
		r.d.uint32()
		r.d.uint32()
		r.d.uint32()
		n++
	}
	if r.d.err != nil || n != 5 {
		t.Errorf("DUMP: %d entries, err %v", n, r.d.err)
	}
	if r := pmapUDP(t, addr, 2, pmapProcSet, progNFS, 3, ipprotoTCP, 1); r.accept != acceptSuccess || r.d.uint32() != 0 {
		t.Errorf("SET by another: accept %d, want false", r.accept)
	}
	// rpcbind v3/v4 get PROG_MISMATCH 2..2, so clients fall back to v2.
	if r := pmapUDP(t, addr, 4, 3); r.accept != acceptProgMismatch || r.d.uint32() != 2 || r.d.uint32() != 2 {
		t.Errorf("v4: accept %d, want PROG_MISMATCH 2-2", r.accept)
	}
	// TCP answers too.
	c := dialRaw(t, pm.tcp.Addr())
	defer c.close()
	if r := c.call(t, progPortmap, 2, pmapProcGetport, nil, (&args{}).u32(progNFS).u32(3).u32(ipprotoTCP).u32(0).bytes()); r.accept != acceptSuccess || r.d.uint32() != 2049 {
		t.Errorf("GETPORT over TCP: accept %d", r.accept)
	}
}

// TestPortmapTools checks discovery with the system's tools on the
// portmapper port 111: our own portmapper when the port is free (root),
// else a registration with the rpcbind that holds it.
func TestPortmapTools(t *testing.T) {
	rpcinfo := needTool(t, "rpcinfo", "rpcbind")
	showmount := needTool(t, "showmount", "nfs-common")
	e := newEnv(t, func(e *env) {
		e.cfg.Export.Clients = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.9.0.0/16")}
	})
	// As root, go-nfs-client binds its connections to a local port below
	// 1024, which is at times 111 for a moment: wait for it to be free.
	var pm *Portmap
	testutil.Poll(10*time.Second, func() bool {
		var err error
		if pm, err = StartPortmap(context.Background(), PortmapConfig{Addr: "127.0.0.1:111", Port: e.addr.Port, Logger: testutil.Logger()}); err != nil {
			t.Fatal(err)
		}
		if pm.Mode() != PortmapOff {
			return true
		}
		pm.Close()
		return false
	})
	defer pm.Close()
	if pm.Mode() == PortmapOff {
		if os.Geteuid() != 0 && os.Getenv("FILEGATE_TEST_NO_SKIP") != "1" {
			t.Skip("port 111 needs root, and no rpcbind runs to register with")
		}
		t.Fatal("portmapper off: could neither listen on 127.0.0.1:111 nor register with rpcbind")
	}
	t.Logf("portmapper mode: %s", pm.Mode())
	out := runTool(t, rpcinfo, "-p", "127.0.0.1")
	port := strconv.Itoa(e.addr.Port)
	for _, want := range [][]string{{"100003", "3", "tcp", port}, {"100005", "3", "tcp", port}, {"100005", "1", "tcp", port}} {
		found := false
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 4 && f[0] == want[0] && f[1] == want[1] && f[2] == want[2] && f[3] == want[3] {
				found = true
			}
		}
		if !found {
			t.Errorf("rpcinfo -p: no %v in\n%s", want, out)
		}
	}
	if out := runTool(t, showmount, "-e", "127.0.0.1"); !strings.Contains(out, "/ 127.0.0.0/8,10.9.0.0/16") {
		t.Errorf("showmount -e: no `/ 127.0.0.0/8,10.9.0.0/16` in\n%s", out)
	}
	pm.Close()
	if pm.Mode() == PortmapRegistered {
		if out := runTool(t, rpcinfo, "-p", "127.0.0.1"); strings.Contains(out, " "+port+" ") {
			t.Errorf("still registered after Close:\n%s", out)
		}
	}
}

// TestLibnfsTools copies a file in and out with Debian's libnfs-utils
// and checks every byte. Root's credentials are squashed, as libnfs
// sends its own uid: the squashed root writes in a 1777 folder.
func TestLibnfsTools(t *testing.T) {
	nfsCp := needTool(t, "nfs-cp", "libnfs-utils")
	nfsLs := needTool(t, "nfs-ls", "libnfs-utils")
	nfsCat := needTool(t, "nfs-cat", "libnfs-utils")
	e := newEnv(t, func(e *env) { e.cfg.Export.Squash = SquashRoot })
	if _, _, err := e.cache.Mkdir(context.Background(), 1, "in", cache.NewAttr{Mode: 0o777 | fs.ModeSticky}); err != nil {
		t.Fatal(err)
	}
	// libnfs URLs are nfs://SERVER/EXPORT/PATH: the export "/" makes a
	// double slash. The ports skip the portmapper.
	url := func(p string) string {
		return fmt.Sprintf("nfs://127.0.0.1/%s?nfsport=%d&mountport=%d", p, e.addr.Port, e.addr.Port)
	}
	dir := t.TempDir()
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	src := filepath.Join(dir, "src.bin")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	runTool(t, nfsCp, src, url("/in/big.bin"))
	if got := e.readFile("/in/big.bin"); !bytes.Equal(got, data) {
		t.Fatalf("nfs-cp in: %d bytes, want %d, equal %v", len(got), len(data), bytes.Equal(got, data))
	}
	out := runTool(t, nfsLs, url("/in"))
	if !strings.Contains(out, "big.bin") || !strings.Contains(out, strconv.Itoa(len(data))) {
		t.Errorf("nfs-ls: no big.bin of %d bytes in\n%s", len(data), out)
	}
	if !strings.Contains(out, "65534") {
		t.Errorf("nfs-ls: root's file not squashed to 65534:\n%s", out)
	}
	dst := filepath.Join(dir, "dst.bin")
	runTool(t, nfsCp, url("/in/big.bin"), dst)
	if got, err := os.ReadFile(dst); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("nfs-cp out: %d bytes, %v", len(got), err)
	}
	if got := runTool(t, nfsCat, url("/in/big.bin")); got != string(data) {
		t.Fatalf("nfs-cat: %d bytes, want %d", len(got), len(data))
	}
	// Squashed root may not write in a folder that is not its own.
	if _, _, err := e.cache.Mkdir(context.Background(), 1, "closed", cache.NewAttr{Mode: 0o755}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(nfsCp, src, url("/closed/x")).CombinedOutput(); err == nil {
		t.Errorf("nfs-cp into a 0755 root-owned folder as squashed root worked:\n%s", out)
	}
}
