package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/filegate/filegate/backend/posix"
	"github.com/filegate/filegate/backend/s3/s3test"
	"github.com/filegate/filegate/internal/testutil"
)

// TestCrash kills a real `filegate serve` with SIGKILL again and again
// while a client creates, overwrites, truncates, renames and removes
// files and makes, renames and removes directories through NFS, and
// uploads run in the background (upload_delay 50ms). After every kill
// the daemon restarts on the same state folder and the client mounts
// again. At the end SIGTERM makes the daemon upload what is pending and
// exit 0, and every acknowledged change must be in the backend, byte for
// byte, with nothing that was removed or renamed away; then the daemon
// starts once more and serves the same tree through NFS.
//
// An operation is acknowledged when every RPC of it succeeded. One that
// failed (the daemon was killed under it) is uncertain: its paths may
// hold anything or nothing, and are not checked; the files and
// directories it touched are not used again.
//
// FILEGATE_CRASH_CYCLES sets the number of kills (default 5);
// FILEGATE_CRASH_SEED replays a workload (the kills land elsewhere);
// FILEGATE_E2E_LOG_DIR keeps the daemon's and the operation log of a
// failed run.
func TestCrash(t *testing.T) {
	t.Run("posix", func(t *testing.T) {
		d := newDaemon(t, crashConfig(""), cleanEnv())
		runCrash(t, d, posixCloud{filepath.Join(d.state, "backend")})
	})
	t.Run("s3", func(t *testing.T) {
		srv := s3test.Shared(t)
		cfg := srv.NewBucket(t)
		dir := t.TempDir()
		creds := filepath.Join(dir, "credentials")
		awsConfig := filepath.Join(dir, "config")
		err := os.WriteFile(creds, fmt.Appendf(nil, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
			s3test.Profile, s3test.AccessKey, s3test.SecretKey), 0o600)
		if err == nil {
			err = os.WriteFile(awsConfig, nil, 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		// Credentials reach the daemon as in production: the SDK's
		// default chain, here a shared credentials file and profile.
		env := append(cleanEnv(), "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_CONFIG_FILE="+awsConfig,
			"AWS_EC2_METADATA_DISABLED=true")
		d := newDaemon(t, crashConfig(fmt.Sprintf(`
[backend]
type = "s3"

[backend.s3]
bucket = %q
endpoint = %q
region = %q
path_style = true
profile = %q
`, cfg.Bucket, cfg.Endpoint, cfg.Region, s3test.Profile)), env)
		runCrash(t, d, s3Cloud{s3test.Open(t, cfg)})
	})
}

// crashConfig is the daemon's config file: uploads soon after each
// write, so that kills land during uploads too.
func crashConfig(extra string) string {
	level := "info"
	if os.Getenv(testutil.EnvLog) != "" {
		level = "debug"
	}
	return fmt.Sprintf("[cache]\nupload_delay = \"50ms\"\n\n[log]\nlevel = %q\nformat = \"text\"\n%s", level, extra)
}

// cleanEnv is the test's environment without AWS settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func runCrash(t *testing.T, d *daemon, cl cloud) {
	cycles := 5
	if s := os.Getenv("FILEGATE_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FILEGATE_CRASH_CYCLES=%q: want a positive number", s)
		}
		cycles = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("FILEGATE_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("FILEGATE_CRASH_SEED=%q: %v", s, err)
		}
	}
	t.Logf("workload seed %d (FILEGATE_CRASH_SEED), %d kills", seed, cycles)
	m := newCrashModel(seed)
	dumpOnFailure := func() {
		if !t.Failed() {
			return
		}
		t.Logf("operation log:\n%s\ndaemon log (tail):\n%s", m.opLog(), d.logTail(60))
		if dir := os.Getenv("FILEGATE_E2E_LOG_DIR"); dir != "" {
			// The whole daemon log and the op log, for a closer look.
			base := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "-")+"-"+strconv.FormatUint(seed, 10))
			b, _ := os.ReadFile(d.logPath)
			os.WriteFile(base+".serve.log", b, 0o644)
			os.WriteFile(base+".ops.log", []byte(m.opLog()), 0o644)
			t.Logf("logs kept in %s.{serve,ops}.log", base)
		}
	}
	defer dumpOnFailure()

	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	var gen atomic.Int64
	stop := make(chan struct{})
	killed := make(chan error, 1)
	go func() {
		defer close(stop)
		r := rand.New(rand.NewPCG(seed, 1))
		for i := range cycles {
			// The workload runs for a random while before each kill, so
			// kills land at different points of it; nothing is waited for.
			time.Sleep(time.Duration(300+r.IntN(1200)) * time.Millisecond)
			m.note(fmt.Sprintf("==== SIGKILL %d (during: %s)", i+1, m.current()))
			d.kill()
			if err := d.start(); err != nil {
				killed <- err
				return
			}
			m.note(fmt.Sprintf("==== restarted (start %d)", d.starts))
			gen.Add(1)
		}
		killed <- nil
	}()
	c, err := d.dial()
	if err != nil {
		<-stop
		t.Fatal(err)
	}
	myGen := gen.Load()
work:
	for {
		select {
		case <-stop:
			break work
		default:
		}
		if g := gen.Load(); g != myGen {
			c.Close()
			if c, err = d.dial(); err != nil {
				<-stop
				t.Fatal(err)
			}
			myGen = g
		}
		m.step(c)
	}
	c.Close()
	if err := <-killed; err != nil {
		t.Fatal(err)
	}
	acked, uncertain := m.counts()
	t.Logf("%d operations: %d acknowledged, %d uncertain; %d files (%d MiB) and %d directories expected",
		acked+uncertain, acked, uncertain, len(m.files), m.bytes()>>20, len(m.dirs))
	if acked < 3*cycles {
		t.Errorf("only %d operations acknowledged in %d cycles: the client barely got through", acked, cycles)
	}

	// SIGTERM uploads whatever is pending, then exits 0.
	if err := d.stop(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	got := cl.tree(t)
	if len(got.temps) > 0 {
		t.Logf("%d temporary files of interrupted uploads in the backend, for the POSIX store's next start to remove: %q", len(got.temps), got.temps)
	}
	if p := m.check(got, cl.read); len(p) > 0 {
		t.Fatalf("backend after %d kills and a clean stop:\n%s", cycles, lines(p))
	}

	// The same tree through NFS, from a fresh start.
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	c, err = d.dial()
	if err != nil {
		t.Fatal(err)
	}
	viaNFS, err := c.walk("")
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	p := m.check(viaNFS, func(p string) ([]byte, error) { return c.readFile("/" + p) })
	c.Close()
	if len(p) > 0 {
		t.Errorf("NFS view after a restart (the backend, checked above, has every acknowledged file):\n%s", lines(p))
	}
	if err := d.stop(90 * time.Second); err != nil {
		t.Fatal(err)
	}
	if pc, ok := cl.(posixCloud); ok {
		// Whatever the kills left, a start of the store removes.
		pc.startStore(t)
		if tr := pc.tree(t); len(tr.temps) > 0 {
			t.Errorf("temporary files left after the POSIX store's start-up sweep: %q", tr.temps)
		}
	}
}

// startStore opens the POSIX store on the folder, as `filegate serve`
// does, and closes it once its start-up sweep is done.
func (c posixCloud) startStore(t *testing.T) {
	t.Helper()
	cfg := posix.DefaultConfig()
	cfg.Root = c.root
	s, err := posix.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	<-s.Swept()
	s.Close()
}

// fileSpec is an acknowledged file's content: size bytes from seed.
type fileSpec struct {
	seed uint64
	size int
	sum  fileSum
}

func newSpec(seed uint64, size int) (fileSpec, []byte) {
	b := randomBytes(seed, size)
	return fileSpec{seed, size, sumOf(b)}, b
}

// crashModel is what the backend must hold: the acknowledged files and
// directories, and the paths uncertain operations may have left. Names
// are never used twice, so a path means one thing for the whole run.
type crashModel struct {
	rng  *rand.Rand
	next int

	files map[string]fileSpec
	dirs  map[string]bool
	maybe map[string]bool

	acked, uncertain int

	mu  sync.Mutex // guards log and cur, shared with the killer
	log []string
	cur string
}

func newCrashModel(seed uint64) *crashModel {
	return &crashModel{
		rng:   rand.New(rand.NewPCG(seed, 2)),
		files: map[string]fileSpec{}, dirs: map[string]bool{"": true}, maybe: map[string]bool{},
	}
}

func (m *crashModel) note(s string) {
	m.mu.Lock()
	m.log = append(m.log, s)
	m.mu.Unlock()
}

func (m *crashModel) current() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == "" {
		return "between operations"
	}
	return m.cur
}

func (m *crashModel) opLog() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return "\t" + strings.Join(m.log, "\n\t")
}

func (m *crashModel) counts() (acked, uncertain int) { return m.acked, m.uncertain }

func (m *crashModel) bytes() int64 {
	var n int64
	for _, f := range m.files {
		n += int64(f.size)
	}
	return n
}

func (m *crashModel) name(prefix, ext string) string {
	m.next++
	return fmt.Sprintf("%s%05d%s", prefix, m.next, ext)
}

// pick returns a random element of the sorted keys of a map, or "".
func pick[V any](r *rand.Rand, set map[string]V, ok func(string) bool) string {
	var keys []string
	for k := range set {
		if ok == nil || ok(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return keys[r.IntN(len(keys))]
}

func depth(p string) int {
	if p == "" {
		return 0
	}
	return strings.Count(p, "/") + 1
}

func under(p, dir string) bool { return dir == "" || p == dir || strings.HasPrefix(p, dir+"/") }

// size draws a file size: empty, small, or up to 3 MiB.
func (m *crashModel) size() int {
	switch r := m.rng.IntN(10); {
	case r == 0:
		return 0
	case r < 3:
		return m.rng.IntN(64 << 10)
	default:
		return m.rng.IntN(3<<20 + 1)
	}
}

// writeChunks writes data into p (created if missing) at offset 0 in
// WRITEs of random sizes, then COMMIT, so a kill may land between them.
func (m *crashModel) writeChunks(c *nfsClient, p string, data []byte) error {
	f, err := c.OpenFile("/"+p, 0o644)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	for off := 0; off < len(data); {
		n := min(len(data)-off, 64<<10+m.rng.IntN(1<<20))
		if _, err := f.Write(data[off : off+n]); err != nil {
			return fmt.Errorf("write at %d: %w", off, err)
		}
		off += n
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// step runs one random operation and records its outcome.
func (m *crashModel) step(c *nfsClient) {
	anyDir := func(string) bool { return true }
	var desc string
	var run func() error
	var ok, failed func()
	switch r := m.rng.IntN(100); {
	case r < 40 || len(m.files) < 3: // create
		p := join(pick(m.rng, m.dirs, anyDir), m.name("f", ".bin"))
		spec, data := newSpec(m.rng.Uint64(), m.size())
		desc = fmt.Sprintf("create %s (%d bytes)", p, spec.size)
		run = func() error { return m.writeChunks(c, p, data) }
		ok = func() { m.files[p] = spec }
		failed = func() { m.maybe[p] = true }
	case r < 50: // overwrite, shrinking by truncate first
		p := pick(m.rng, m.files, nil)
		old := m.files[p]
		spec, data := newSpec(m.rng.Uint64(), m.size())
		desc = fmt.Sprintf("overwrite %s (%d bytes, was %d)", p, spec.size, old.size)
		run = func() error {
			if spec.size < old.size {
				if err := c.truncate("/"+p, int64(spec.size)); err != nil {
					return err
				}
			}
			return m.writeChunks(c, p, data)
		}
		ok = func() { m.files[p] = spec }
		failed = func() { delete(m.files, p); m.maybe[p] = true }
	case r < 58: // mkdir
		parent := pick(m.rng, m.dirs, func(d string) bool { return depth(d) < 3 })
		p := join(parent, m.name("d", ""))
		desc = "mkdir " + p
		run = func() error { _, err := c.Mkdir("/"+p, 0o755); return err }
		ok = func() { m.dirs[p] = true }
		failed = func() { m.maybe[p] = true }
	case r < 73: // rename a file, maybe over another
		src := pick(m.rng, m.files, nil)
		dst := join(pick(m.rng, m.dirs, anyDir), m.name("r", ".bin"))
		if m.rng.IntN(3) == 0 {
			if other := pick(m.rng, m.files, func(p string) bool { return p != src }); other != "" {
				dst = other
			}
		}
		desc = fmt.Sprintf("rename %s -> %s", src, dst)
		if _, over := m.files[dst]; over {
			desc += " (replacing it)"
		}
		run = func() error { return c.Rename("/"+src, "/"+dst) }
		ok = func() { m.files[dst] = m.files[src]; delete(m.files, src) }
		failed = func() {
			delete(m.files, src)
			delete(m.files, dst)
			m.maybe[src], m.maybe[dst] = true, true
		}
	case r < 85: // remove a file
		p := pick(m.rng, m.files, nil)
		desc = "remove " + p
		run = func() error { return c.Remove("/" + p) }
		ok = func() { delete(m.files, p) }
		failed = func() { delete(m.files, p); m.maybe[p] = true }
	case r < 93: // rename a directory and all below it
		src := pick(m.rng, m.dirs, func(d string) bool { return d != "" })
		if src == "" {
			return
		}
		height := 0
		for d := range m.dirs {
			if under(d, src) {
				height = max(height, depth(d)-depth(src))
			}
		}
		parent := pick(m.rng, m.dirs, func(d string) bool { return !under(d, src) && depth(d)+1+height <= 4 })
		if parent == "" {
			return
		}
		dst := join(parent, m.name("m", ""))
		desc = fmt.Sprintf("rename directory %s -> %s", src, dst)
		run = func() error { return c.Rename("/"+src, "/"+dst) }
		ok = func() { m.moveTree(src, dst) }
		failed = func() { m.taintTree(src, dst) }
	default: // remove an empty directory
		p := pick(m.rng, m.dirs, func(d string) bool { return d != "" && m.empty(d) })
		if p == "" {
			return
		}
		desc = "rmdir " + p
		run = func() error { return c.RmDir("/" + p) }
		ok = func() { delete(m.dirs, p) }
		failed = func() { delete(m.dirs, p); m.maybe[p] = true }
	}
	m.mu.Lock()
	m.cur = desc
	m.mu.Unlock()
	start := time.Now()
	err := run()
	m.mu.Lock()
	m.cur = ""
	m.mu.Unlock()
	if err != nil {
		m.uncertain++
		failed()
		m.note(fmt.Sprintf("%s: FAILED after %v, uncertain: %v", desc, time.Since(start).Round(time.Millisecond), err))
		return
	}
	m.acked++
	ok()
	m.note(desc + ": ok")
}

// empty reports whether nothing is known or suspected below dir.
func (m *crashModel) empty(dir string) bool {
	for _, set := range []map[string]bool{m.dirs, m.maybe} {
		for p := range set {
			if p != dir && under(p, dir) {
				return false
			}
		}
	}
	for p := range m.files {
		if under(p, dir) {
			return false
		}
	}
	return true
}

func moved(p, src, dst string) string { return dst + strings.TrimPrefix(p, src) }

// moveTree records the rename of directory src to dst.
func (m *crashModel) moveTree(src, dst string) {
	files := map[string]fileSpec{}
	for p, f := range m.files {
		if under(p, src) {
			p = moved(p, src, dst)
		}
		files[p] = f
	}
	m.files = files
	for _, set := range []*map[string]bool{&m.dirs, &m.maybe} {
		next := map[string]bool{}
		for p := range *set {
			if p != "" && under(p, src) {
				p = moved(p, src, dst)
			}
			next[p] = true
		}
		*set = next
	}
}

// taintTree records a rename of directory src to dst that may or may
// not have happened: everything below is uncertain, at both places.
func (m *crashModel) taintTree(src, dst string) {
	var below []string
	for p := range m.files {
		if under(p, src) {
			below = append(below, p)
			delete(m.files, p)
		}
	}
	for p := range m.dirs {
		if under(p, src) {
			below = append(below, p)
			delete(m.dirs, p)
		}
	}
	for p := range m.maybe {
		if under(p, src) {
			below = append(below, p)
		}
	}
	for _, p := range below {
		m.maybe[p], m.maybe[moved(p, src, dst)] = true, true
	}
}

// check compares a view of the namespace with the model: every
// acknowledged file with its content and every acknowledged directory
// present, nothing else but what uncertain operations may have left.
// read fetches a file for a closer look at a difference.
func (m *crashModel) check(got tree, read func(string) ([]byte, error)) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for p, want := range m.files {
		g, ok := got.files[p]
		switch {
		case !ok:
			add("acknowledged file %s (%d bytes) missing", p, want.size)
		case g != want.sum:
			add("acknowledged file %s: %s", p, explain(read, p, want))
		}
	}
	for d := range m.dirs {
		if d != "" && !got.dirs[d] {
			add("acknowledged directory %s missing", d)
		}
	}
	for p, g := range got.files {
		if _, ok := m.files[p]; ok || m.maybe[p] {
			continue
		}
		if strings.Contains(path.Base(p), ".conflict-") {
			add("unexpected file %s (%v): a conflict copy, yet nobody else wrote to the backend", p, g)
		} else {
			add("unexpected file %s (%v): removed or renamed away, or never made", p, g)
		}
	}
	for d := range got.dirs {
		if !m.dirs[d] && !m.maybe[d] {
			add("unexpected directory %s", d)
		}
	}
	slices.Sort(out)
	return out
}

// explain says how the file at p differs from want.
func explain(read func(string) ([]byte, error), p string, want fileSpec) string {
	b, err := read(p)
	if err != nil {
		return fmt.Sprintf("content differs (%d bytes wanted), and reading it: %v", want.size, err)
	}
	w := randomBytes(want.seed, want.size)
	i := 0
	for i < len(b) && i < len(w) && b[i] == w[i] {
		i++
	}
	zeros := len(b) > i && bytes.Count(b[i:], []byte{0}) == len(b)-i
	return fmt.Sprintf("%d bytes, want %d; first difference at byte %d (rest zeros: %v)", len(b), len(w), i, zeros)
}
