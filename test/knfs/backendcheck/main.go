package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/BurntSushi/toml"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	listing := flag.String("listing", "", "the guest's listing (work-listing.txt)")
	under := flag.String("under", "work", "compare the entries below this path of the share")
	posixDir := flag.String("posix", "", "root folder of a POSIX backend")
	s3Config := flag.String("s3", "", "filegate config file of an S3 backend")
	flag.Parse()
	if *listing == "" || (*posixDir == "") == (*s3Config == "") {
		fmt.Fprintln(os.Stderr, "usage: backendcheck -listing FILE [-under PATH] (-posix DIR | -s3 CONFIG)")
		os.Exit(2)
	}
	want, err := readListing(*listing, *under)
	if err != nil {
		fmt.Fprintln(os.Stderr, "backendcheck:", err)
		os.Exit(1)
	}
	var got map[string]entry
	if *posixDir != "" {
		got, err = posixEntries(*posixDir, *under)
	} else {
		got, err = s3Entries(context.Background(), *s3Config, *under)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "backendcheck:", err)
		os.Exit(1)
	}
	problems := compare(want, got)
	for i, p := range problems {
		if i == 40 {
			fmt.Printf("... and %d more\n", len(problems)-i)
			break
		}
		fmt.Println("problem:", p)
	}
	fmt.Printf("backendcheck: %d listed entries, %d in the backend, %d problems\n", len(want), len(got), len(problems))
	if len(problems) > 0 {
		os.Exit(1)
	}
}

// entry is one file, folder or symlink, as listed or as found.
type entry struct {
	path     string
	typ      byte   // 'f', 'd' or 'l'
	mode     uint32 // permission bits with setuid, setgid, sticky
	uid, gid uint32
	size     int64
	mtime    int64  // ns since the epoch
	group    string // listing: the first name of a hard-linked inode, or ""
	data     string // sha256 (hex) of a file, target of a symlink
}

// readListing reads the entries at or below under of work.sh's listing:
// path, type, mode, uid, gid, size, mtime, nlink, group, data per line.
func readListing(name, under string) ([]entry, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		fl := strings.Split(sc.Text(), "\t")
		if len(fl) != 10 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 10", name, n, len(fl))
		}
		if fl[0] != under && !strings.HasPrefix(fl[0], under+"/") {
			continue
		}
		e := entry{path: fl[0], typ: fl[1][0], data: fl[9]}
		mode, err1 := strconv.ParseUint(fl[2], 8, 32)
		uid, err2 := strconv.ParseUint(fl[3], 10, 32)
		gid, err3 := strconv.ParseUint(fl[4], 10, 32)
		mt, err4 := parseFindTime(fl[6])
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		e.mode, e.uid, e.gid, e.mtime = uint32(mode), uint32(uid), uint32(gid), mt
		if e.typ != 'd' {
			if e.size, err = strconv.ParseInt(fl[5], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: size: %w", name, n, err)
			}
		}
		if fl[8] != "-" {
			e.group = fl[8]
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// parseFindTime parses find's %T@, seconds with up to ten decimals.
func parseFindTime(s string) (int64, error) {
	sec, frac, _ := strings.Cut(s, ".")
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("mtime %q: %w", s, err)
	}
	frac = (frac + "000000000")[:9]
	ns, err := strconv.ParseInt(frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("mtime %q: %w", s, err)
	}
	return n*1e9 + ns, nil
}

// compare returns the differences between the listing and the backend.
func compare(want []entry, got map[string]entry) []string {
	var problems []string
	seen := map[string]bool{}
	groups := map[string][]entry{}
	for _, w := range want {
		seen[w.path] = true
		if w.group != "" {
			groups[w.group] = append(groups[w.group], w)
			continue
		}
		g, ok := got[w.path]
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: missing from the backend", w.path))
			continue
		}
		problems = append(problems, diff(w, g)...)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		var present []string
		for _, w := range groups[k] {
			if g, ok := got[w.path]; ok {
				present = append(present, w.path)
				problems = append(problems, diff(w, g)...)
			}
		}
		if len(present) != 1 {
			problems = append(problems, fmt.Sprintf("%s: hard-linked file in the backend under %d of its %d names %q, want exactly 1",
				k, len(present), len(groups[k]), present))
		}
	}
	extra := make([]string, 0)
	for p := range got {
		if !seen[p] {
			extra = append(extra, p)
		}
	}
	sort.Strings(extra)
	for _, p := range extra {
		problems = append(problems, fmt.Sprintf("%s: in the backend but not on the share", p))
	}
	return problems
}

func diff(w, g entry) []string {
	var p []string
	add := func(what string, want, got any) {
		p = append(p, fmt.Sprintf("%s: %s %v in the backend, want %v", w.path, what, got, want))
	}
	if w.typ != g.typ {
		add("type", string(w.typ), string(g.typ))
		return p
	}
	if w.mode != g.mode && w.typ != 'l' {
		add("mode", fmt.Sprintf("%04o", w.mode), fmt.Sprintf("%04o", g.mode))
	}
	if w.uid != g.uid || w.gid != g.gid {
		add("owner", fmt.Sprintf("%d:%d", w.uid, w.gid), fmt.Sprintf("%d:%d", g.uid, g.gid))
	}
	if w.typ == 'd' {
		return p
	}
	if w.size != g.size {
		add("size", w.size, g.size)
	}
	if w.data != g.data {
		add(map[byte]string{'f': "sha256", 'l': "target"}[w.typ], w.data, g.data)
	}
	if w.mtime != g.mtime {
		add("mtime", w.mtime, g.mtime)
	}
	return p
}

func posixEntries(root, under string) (map[string]entry, error) {
	out := map[string]entry{}
	err := filepath.WalkDir(filepath.Join(root, under), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == under {
			return nil
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return fmt.Errorf("lstat %s: %w", p, err)
		}
		e := entry{path: rel, mode: st.Mode & 0o7777, uid: st.Uid, gid: st.Gid, size: st.Size,
			mtime: st.Mtim.Sec*1e9 + st.Mtim.Nsec}
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFDIR:
			e.typ = 'd'
		case syscall.S_IFLNK:
			e.typ = 'l'
			if e.data, err = os.Readlink(p); err != nil {
				return err
			}
		case syscall.S_IFREG:
			e.typ = 'f'
			if e.data, err = fileSum(p); err != nil {
				return err
			}
		default:
			e.typ = '?'
		}
		out[rel] = e
		return nil
	})
	return out, err
}

func fileSum(name string) (string, error) {
	f, err := os.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// s3Config is the part of filegate's config file that names the bucket.
type s3Config struct {
	Backend struct {
		S3 struct {
			Bucket    string `toml:"bucket"`
			Prefix    string `toml:"prefix"`
			Endpoint  string `toml:"endpoint"`
			Region    string `toml:"region"`
			PathStyle bool   `toml:"path_style"`
		} `toml:"s3"`
	} `toml:"backend"`
}

func s3Entries(ctx context.Context, configFile, under string) (map[string]entry, error) {
	var cfg s3Config
	if _, err := toml.DecodeFile(configFile, &cfg); err != nil {
		return nil, err
	}
	c := cfg.Backend.S3
	if c.Bucket == "" || c.Endpoint == "" {
		return nil, fmt.Errorf("%s: no backend.s3 bucket or endpoint", configFile)
	}
	client := s3.New(s3.Options{
		Region:       c.Region,
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: c.PathStyle,
		Credentials:  credentials.NewStaticCredentialsProvider(os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"), ""),
	})
	out := map[string]entry{}
	listPrefix := c.Prefix + under + "/"
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: &c.Bucket, Prefix: &listPrefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", listPrefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if key == listPrefix {
				continue // the marker of UNDER itself
			}
			e, err := s3Entry(ctx, client, c.Bucket, key)
			if err != nil {
				return nil, err
			}
			e.path = strings.TrimSuffix(strings.TrimPrefix(key, c.Prefix), "/")
			if _, dup := out[e.path]; dup {
				return nil, fmt.Errorf("%s: both a marker and an object", e.path)
			}
			out[e.path] = e
		}
	}
	return out, nil
}

// s3Entry reads one object and its filegate metadata, as README.md's
// "Backend mapping (S3)" documents them.
func s3Entry(ctx context.Context, client *s3.Client, bucket, key string) (entry, error) {
	o, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		return entry{}, fmt.Errorf("get %s: %w", key, err)
	}
	defer o.Body.Close()
	h := sha256.New()
	var body strings.Builder
	n, err := io.Copy(io.MultiWriter(h, &limitedBuilder{&body, 4096}), o.Body)
	if err != nil {
		return entry{}, fmt.Errorf("get %s: %w", key, err)
	}
	md := o.Metadata
	e := entry{size: n, data: hex.EncodeToString(h.Sum(nil))}
	mode, err1 := strconv.ParseUint(md["filegate-mode"], 8, 32)
	uid, err2 := strconv.ParseUint(md["filegate-uid"], 10, 32)
	gid, err3 := strconv.ParseUint(md["filegate-gid"], 10, 32)
	mt, err4 := strconv.ParseInt(md["filegate-mtime"], 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return entry{}, fmt.Errorf("%s: metadata %v: %w", key, md, err)
	}
	e.mode, e.uid, e.gid, e.mtime = uint32(mode), uint32(uid), uint32(gid), mt
	switch typ := md["filegate-type"]; {
	case typ == "dir" && strings.HasSuffix(key, "/"):
		e.typ = 'd'
	case typ == "file":
		e.typ = 'f'
	case typ == "symlink":
		e.typ = 'l'
		e.data = body.String()
	default:
		return entry{}, fmt.Errorf("%s: filegate-type %q", key, typ)
	}
	return e, nil
}

// limitedBuilder keeps the first max bytes written to it (a symlink's
// target) and drops the rest.
type limitedBuilder struct {
	b   *strings.Builder
	max int
}

func (l *limitedBuilder) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
