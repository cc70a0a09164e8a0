package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/filegate/filegate/backend"
)

// badKeys are keys every store rejects; the bool says whether for length.
var badKeys = []struct {
	key     string
	tooLong bool
}{
	{"", false},
	{"/", false},
	{"/a", false},
	{"a//b", false},
	{"a//", false},
	{"a/../b", false},
	{"..", false},
	{"./a", false},
	{"a/.", false},
	{"a\x00b", false},
	{"d/" + backend.TempPrefix + "x", false},
	{strings.Repeat("n", 256), true},
	{"d/" + strings.Repeat("n", 256) + "/", true},
	{strings.Repeat("abcdefg/", 128) + "x", true}, // 1025 bytes
}

func testInvalidKeys(t *testing.T, s backend.Store, _ Options) {
	ctx := t.Context()
	mustPut(t, s, "ok", "v", nil)
	mustPut(t, s, "okdir/", "", nil)
	for _, bk := range badKeys {
		key := bk.key
		other := "ok"
		if strings.HasSuffix(key, "/") {
			other = "okdir/"
		}
		calls := map[string]error{}
		_, calls["Stat"] = s.Stat(ctx, key)
		_, calls["Get"] = s.Get(ctx, key, 0, -1, "")
		_, calls["Put"] = s.Put(ctx, key, strings.NewReader(""), 0, nil)
		calls["Delete"] = s.Delete(ctx, key)
		_, calls["Copy from"] = s.Copy(ctx, key, other, nil)
		_, calls["Copy to"] = s.Copy(ctx, other, key, nil)
		if r, ok := s.(backend.Renamer); ok {
			calls["Rename from"] = r.Rename(ctx, key, other)
			calls["Rename to"] = r.Rename(ctx, other, key)
		}
		for op, err := range calls {
			if !errors.Is(err, backend.ErrInvalidKey) {
				t.Errorf("%s(%.40q) = %v, want ErrInvalidKey", op, key, err)
			}
			if bk.tooLong && !errors.Is(err, backend.ErrNameTooLong) {
				t.Errorf("%s(%.40q) = %v, want ErrNameTooLong", op, key, err)
			}
		}
	}
	if got := mustGet(t, s, "ok"); got != "v" {
		t.Errorf("Get(ok) = %q after invalid calls", got)
	}
}

// testLongKeys uses keys at the limits, which must work.
func testLongKeys(t *testing.T, s backend.Store, _ Options) {
	name := strings.Repeat("n", backend.MaxNameBytes)
	long := strings.Repeat(strings.Repeat("k", 200)+"/", 5) + strings.Repeat("k", 19)
	if len(long) != backend.MaxKeyBytes {
		t.Fatalf("test key of %d bytes", len(long))
	}
	for _, key := range []string{name, "d/" + name, long} {
		mustPut(t, s, key, "v", nil)
		if got := mustGet(t, s, key); got != "v" {
			t.Errorf("Get = %q", got)
		}
		found := false
		err := s.List(t.Context(), backend.ListOptions{}, func(oi backend.ObjectInfo) error {
			found = found || oi.Key == key
			return nil
		})
		if err != nil || !found {
			t.Errorf("List did not find a key of %d bytes (err %v)", len(key), err)
		}
		if err := s.Delete(t.Context(), key); err != nil {
			t.Fatal(err)
		}
	}
}

func testCancelled(t *testing.T, s backend.Store, _ Options) {
	mustPut(t, s, "k", "v", nil)
	mustPut(t, s, "d/", "", nil)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	calls := map[string]error{}
	_, calls["Stat"] = s.Stat(ctx, "k")
	_, calls["Get"] = s.Get(ctx, "k", 0, -1, "")
	_, calls["Put"] = s.Put(ctx, "new", strings.NewReader("v"), 1, nil)
	calls["Delete"] = s.Delete(ctx, "k")
	_, calls["Copy"] = s.Copy(ctx, "k", "k2", nil)
	calls["List"] = s.List(ctx, backend.ListOptions{}, func(backend.ObjectInfo) error {
		t.Error("List called fn with a cancelled context")
		return nil
	})
	if r, ok := s.(backend.Renamer); ok {
		calls["Rename"] = r.Rename(ctx, "k", "k3")
	}
	if u, ok := s.(backend.UsageReporter); ok {
		_, calls["Usage"] = u.Usage(ctx)
	}
	for op, err := range calls {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", op, err)
		}
	}
	wantNotExist(t, s, "new")
	wantNotExist(t, s, "k2")
	mustStat(t, s, "k")
}

func testConcurrent(t *testing.T, s backend.Store, _ Options) {
	const goroutines, rounds = 16, 20
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			ctx := t.Context()
			for i := range rounds {
				key := fmt.Sprintf("c/g%d/k%d", g, i%4)
				body := fmt.Sprintf("%d-%d", g, i)
				if _, err := s.Put(ctx, key, strings.NewReader(body), int64(len(body)), nil); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
				rc, err := s.Get(ctx, key, 0, -1, "")
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || string(got) != body {
					t.Errorf("Get(%s) = %q, %v; want %q", key, got, err, body)
				}
				if i%3 == 0 {
					if err := s.Delete(ctx, key); err != nil {
						t.Errorf("Delete: %v", err)
					}
				}
				err = s.List(ctx, backend.ListOptions{Prefix: "c/", Delimiter: "/"}, func(backend.ObjectInfo) error { return nil })
				if err != nil {
					t.Errorf("List: %v", err)
				}
			}
		})
	}
	wg.Wait()
}

// testAtomicPut overwrites one key from several goroutines while others
// read it: every read must see one whole body.
func testAtomicPut(t *testing.T, s backend.Store, _ Options) {
	const size, writers, rounds = 64 << 10, 4, 8
	mustPut(t, s, "same", strings.Repeat("-", size), nil)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			body := bytes.Repeat([]byte{byte('a' + w)}, size)
			for range rounds {
				if _, err := s.Put(t.Context(), "same", bytes.NewReader(body), size, nil); err != nil {
					t.Errorf("Put: %v", err)
					return
				}
			}
		})
	}
	for range writers {
		wg.Go(func() {
			for range rounds * 2 {
				rc, err := s.Get(t.Context(), "same", 0, -1, "")
				if err != nil {
					t.Errorf("Get: %v", err)
					return
				}
				got, err := io.ReadAll(rc)
				rc.Close()
				if err != nil || len(got) != size || bytes.Count(got, got[:1]) != size {
					t.Errorf("Get saw a torn body of %d bytes (err %v)", len(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
}
