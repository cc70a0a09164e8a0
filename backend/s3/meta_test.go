package s3

import (
	"errors"
	"io/fs"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
)

func TestEncodeAttrs(t *testing.T) {
	mtime := time.Date(2021, 6, 7, 8, 9, 10, 123456789, time.UTC)
	for _, tc := range []struct {
		key   string
		attrs *backend.Attrs
		want  map[string]string
	}{
		{"a/b.txt", nil, nil},
		{"a/b.txt", &backend.Attrs{Mode: 0o644, UID: 1000, GID: 100, MTime: mtime},
			map[string]string{"filegate-type": "file", "filegate-mode": "644", "filegate-uid": "1000", "filegate-gid": "100", "filegate-mtime": "1623053350123456789"}},
		{"bin/su", &backend.Attrs{Mode: fs.ModeSetuid | fs.ModeSetgid | 0o755, MTime: time.Unix(0, 0)},
			map[string]string{"filegate-type": "file", "filegate-mode": "6755", "filegate-uid": "0", "filegate-gid": "0", "filegate-mtime": "0"}},
		{"tmp/", &backend.Attrs{Mode: fs.ModeDir | fs.ModeSticky | 0o777, UID: 4294967295, MTime: time.Unix(-1, 0)},
			map[string]string{"filegate-type": "dir", "filegate-mode": "1777", "filegate-uid": "4294967295", "filegate-gid": "0", "filegate-mtime": "-1000000000"}},
		{"link", &backend.Attrs{Mode: fs.ModeSymlink | 0o777, MTime: time.Unix(5, 6)},
			map[string]string{"filegate-type": "symlink", "filegate-mode": "777", "filegate-uid": "0", "filegate-gid": "0", "filegate-mtime": "5000000006"}},
	} {
		got := encodeAttrs(tc.key, tc.attrs)
		if len(got) != len(tc.want) {
			t.Errorf("encodeAttrs(%q, %+v) = %v, want %v", tc.key, tc.attrs, got, tc.want)
			continue
		}
		for k, v := range tc.want {
			if got[k] != v {
				t.Errorf("encodeAttrs(%q): %s = %q, want %q", tc.key, k, got[k], v)
			}
		}
		back := decodeAttrs(tc.key, got)
		if (back == nil) != (tc.attrs == nil) {
			t.Fatalf("decodeAttrs(%q, %v) = %v", tc.key, got, back)
		}
		if back != nil && (back.Mode != tc.attrs.Mode || back.UID != tc.attrs.UID || back.GID != tc.attrs.GID || !back.MTime.Equal(tc.attrs.MTime)) {
			t.Errorf("round trip of %+v = %+v", *tc.attrs, *back)
		}
	}
}

func TestDecodeAttrsRejects(t *testing.T) {
	good := map[string]string{"filegate-type": "file", "filegate-mode": "644", "filegate-uid": "1", "filegate-gid": "2", "filegate-mtime": "3"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "<delete>" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	if decodeAttrs("f", good) == nil {
		t.Fatal("good metadata rejected")
	}
	for _, tc := range []struct {
		key string
		md  map[string]string
	}{
		{"f", nil},
		{"f", map[string]string{"other-tool": "x"}},
		{"f", with("filegate-type", "<delete>")},
		{"f", with("filegate-type", "fifo")},
		{"f", with("filegate-type", "dir")}, // a directory type on a file key
		{"d/", good},                        // a file type on a marker key
		{"f", with("filegate-mode", "999")},
		{"f", with("filegate-mode", "17777")},
		{"f", with("filegate-mode", "")},
		{"f", with("filegate-uid", "-1")},
		{"f", with("filegate-uid", "4294967296")},
		{"f", with("filegate-gid", "x")},
		{"f", with("filegate-mtime", "1.5")},
		{"f", with("filegate-mtime", "<delete>")},
	} {
		if a := decodeAttrs(tc.key, tc.md); a != nil {
			t.Errorf("decodeAttrs(%q, %v) = %+v, want nil", tc.key, tc.md, *a)
		}
	}
}

func TestMergeMetaKeepsForeignKeys(t *testing.T) {
	src := map[string]string{"other-tool": "keep", "filegate-mode": "600", "filegate-type": "file"}
	a := &backend.Attrs{Mode: 0o640, MTime: time.Unix(1, 0)}
	got := mergeMeta(src, "f", a)
	if got["other-tool"] != "keep" || got["filegate-mode"] != "640" || len(got) != 6 {
		t.Fatalf("mergeMeta = %v", got)
	}
	if src["filegate-mode"] != "600" {
		t.Fatal("mergeMeta changed its source")
	}
}

func TestETagFollowsMetadata(t *testing.T) {
	tag := `"abc"`
	a := encodeAttrs("f", &backend.Attrs{Mode: 0o644, MTime: time.Unix(1, 0)})
	b := encodeAttrs("f", &backend.Attrs{Mode: 0o600, MTime: time.Unix(1, 0)})
	if etag(&tag, nil) != "abc" {
		t.Errorf("etag without metadata = %q", etag(&tag, nil))
	}
	if etag(&tag, a) == etag(&tag, b) || etag(&tag, a) != etag(&tag, encodeAttrs("f", &backend.Attrs{Mode: 0o644, MTime: time.Unix(1, 0)})) {
		t.Error("etag does not follow the metadata, or is not stable")
	}
}

// FuzzDecodeAttrs checks that any metadata decodes without panicking to
// nil or to attributes that encode back to the same values.
func FuzzDecodeAttrs(f *testing.F) {
	f.Add("f", "file", "644", "1", "2", "3")
	f.Add("d/", "dir", "1777", "0", "0", "-5")
	f.Add("l", "symlink", "777", "4294967295", "1", "9223372036854775807")
	f.Add("x", "file", "0o644", "+1", " 2", "0x10")
	f.Fuzz(func(t *testing.T, key, typ, mode, uid, gid, mtime string) {
		md := map[string]string{"filegate-type": typ, "filegate-mode": mode, "filegate-uid": uid, "filegate-gid": gid, "filegate-mtime": mtime}
		a := decodeAttrs(key, md)
		if a == nil {
			return
		}
		again := decodeAttrs(key, encodeAttrs(key, a))
		if again == nil || *again != *a && !(again.Mode == a.Mode && again.UID == a.UID && again.GID == a.GID && again.MTime.Equal(a.MTime)) {
			t.Fatalf("decode(encode(%+v)) = %+v", *a, again)
		}
		if isMarker(key) != a.Mode.IsDir() {
			t.Fatalf("key %q decoded to mode %v", key, a.Mode)
		}
	})
}

func TestPartSize(t *testing.T) {
	const mib, gib, tib = 1 << 20, 1 << 30, 1 << 40
	for _, tc := range []struct {
		size, min, want int64
	}{
		{0, 16 * mib, 16 * mib},
		{100 * mib, 16 * mib, 16 * mib},
		{10000 * 16 * mib, 16 * mib, 16 * mib}, // exactly fits
		{10000*16*mib + 1, 16 * mib, 17 * mib}, // one byte more: whole MiB up
		{5 * tib, 8 * mib, 525 * mib},
		{5 * tib, 5 * gib, 5 * gib},
	} {
		got := PartSize(tc.size, tc.min)
		if got != tc.want {
			t.Errorf("PartSize(%d, %d) = %d, want %d", tc.size, tc.min, got, tc.want)
		}
		if parts := (tc.size + got - 1) / got; parts > MaxParts || got > MaxPartSize || got%mib != 0 {
			t.Errorf("PartSize(%d, %d) = %d: %d parts", tc.size, tc.min, got, parts)
		}
	}
	// Every size up to 5 TiB fits, with the smallest part allowed.
	for size := int64(MaxObjectSize); size > 0; size /= 3 {
		p := PartSize(size, MinPartSize)
		if (size+p-1)/p > MaxParts || p > MaxPartSize {
			t.Fatalf("PartSize(%d) = %d: %d parts", size, p, (size+p-1)/p)
		}
	}
}

func TestPrefixCanMatch(t *testing.T) {
	for p, want := range map[string]bool{
		"": true, "a": true, "a/": true, "a/b": true, "a/.": true, "a/..x": true, "..": true,
		"../": false, "a//": false, "/": false, "/a": false, "./": false, "a/./b": false,
		"a\x00": false, string(make([]byte, 256)): false,
	} {
		if got := prefixCanMatch(p); got != want {
			t.Errorf("prefixCanMatch(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestS3StartAfter(t *testing.T) {
	for _, tc := range []struct {
		opts backend.ListOptions
		want string
	}{
		{backend.ListOptions{StartAfter: "a/b"}, "a/b"},
		{backend.ListOptions{StartAfter: "a/b", Delimiter: "/"}, "a/" + maxRune},
		{backend.ListOptions{StartAfter: "a/", Delimiter: "/"}, "a/" + maxRune},
		{backend.ListOptions{StartAfter: "a", Delimiter: "/"}, "a"},
		{backend.ListOptions{Prefix: "a/", StartAfter: "a/b/c/d", Delimiter: "/"}, "a/b/" + maxRune},
		{backend.ListOptions{Prefix: "a/", StartAfter: "a/b", Delimiter: "/"}, "a/b"},
		{backend.ListOptions{Prefix: "b/", StartAfter: "a/x", Delimiter: "/"}, "a/x"},
	} {
		if got := s3StartAfter(tc.opts); got != tc.want {
			t.Errorf("s3StartAfter(%+v) = %q, want %q", tc.opts, got, tc.want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	good := DefaultConfig()
	good.Bucket = "my-bucket"
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"Bucket", func(c *Config) { c.Bucket = "" }},
		{"Bucket", func(c *Config) { c.Bucket = "My_Bucket" }},
		{"Prefix", func(c *Config) { c.Prefix = "office" }},
		{"Prefix", func(c *Config) { c.Prefix = "/office/" }},
		{"Prefix", func(c *Config) { c.Prefix = "a//" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "127.0.0.1:7070" }},
		{"Endpoint", func(c *Config) { c.Endpoint = "https://key:secret@s3.example.com" }},
		{"SSE", func(c *Config) { c.SSE = "aes" }},
		{"KMSKeyID", func(c *Config) { c.KMSKeyID = "arn:aws:kms:x" }},
		{"StorageClass", func(c *Config) { c.StorageClass = "COLD" }},
		{"Checksum", func(c *Config) { c.Checksum = "always" }},
		{"PartSize", func(c *Config) { c.PartSize = 1 << 20 }},
		{"UploadConcurrency", func(c *Config) { c.UploadConcurrency = 0 }},
	} {
		c := good
		tc.edit(&c)
		err := c.Validate()
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: Validate = %v, want a %s error", c, err, tc.field)
		}
	}
	kms := good
	kms.SSE, kms.KMSKeyID, kms.StorageClass = SSEKMS, "alias/x", "STANDARD_IA"
	if err := kms.Validate(); err != nil {
		t.Error(err)
	}
}
