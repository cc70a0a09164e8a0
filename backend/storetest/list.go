package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/filegate/filegate/backend"
)

// tree is a listing fixture with every directory's marker put, so stores
// with and without real directories hold the same keys. "a/b.txt" sorts
// before "a/b/" and "a/b0" after it: '.' < '/' < '0'.
var tree = []string{
	"a.txt", "a/", "a/a", "a/b.txt", "a/b/", "a/b/c/", "a/b/c/y", "a/b/x", "a/b0", "a/ba", "z",
}

func putTree(t *testing.T, s backend.Store) {
	t.Helper()
	// Leaves first, so stores that make parents on the way are covered.
	for _, k := range slices.Backward(tree) {
		body := ""
		if !strings.HasSuffix(k, "/") {
			body = "body of " + k
		}
		mustPut(t, s, k, body, nil)
	}
}

// listed renders a listing: objects by key, common prefixes in brackets.
func listed(t *testing.T, s backend.Store, opts backend.ListOptions) []string {
	t.Helper()
	var got []string
	err := s.List(t.Context(), opts, func(oi backend.ObjectInfo) error {
		if oi.Prefix {
			got = append(got, "["+oi.Key+"]")
		} else {
			got = append(got, oi.Key)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("List(%+v): %v", opts, err)
	}
	return got
}

func testList(t *testing.T, s backend.Store, _ Options) {
	putTree(t, s)
	for _, tc := range []struct {
		prefix, delim string
		want          []string
	}{
		{"", "", tree},
		{"", "/", []string{"a.txt", "[a/]", "z"}},
		{"a/", "/", []string{"a/", "a/a", "a/b.txt", "[a/b/]", "a/b0", "a/ba"}},
		{"a/b", "/", []string{"a/b.txt", "[a/b/]", "a/b0", "a/ba"}},
		{"a/b/", "/", []string{"a/b/", "[a/b/c/]", "a/b/x"}},
		{"a/b/c/", "/", []string{"a/b/c/", "a/b/c/y"}},
		{"a/b", "", []string{"a/b.txt", "a/b/", "a/b/c/", "a/b/c/y", "a/b/x", "a/b0", "a/ba"}},
		{"a/b/", "", []string{"a/b/", "a/b/c/", "a/b/c/y", "a/b/x"}},
		{"a", "/", []string{"a.txt", "[a/]"}},
		{"z", "", []string{"z"}},
		{"a/b.txt", "", []string{"a/b.txt"}},
		{"a/b.txt/", "", nil},
		{"nope/", "/", nil},
		{"../", "", nil},
		{"a//", "/", nil},
		{"/", "", nil},
	} {
		got := listed(t, s, backend.ListOptions{Prefix: tc.prefix, Delimiter: tc.delim})
		if !slices.Equal(got, tc.want) {
			t.Errorf("List(prefix %q, delimiter %q)\n got %q\nwant %q", tc.prefix, tc.delim, got, tc.want)
		}
		keys := listed(t, s, backend.ListOptions{Prefix: tc.prefix, Delimiter: tc.delim, KeysOnly: true})
		if !slices.Equal(keys, tc.want) {
			t.Errorf("List(prefix %q, delimiter %q, keys only)\n got %q\nwant %q", tc.prefix, tc.delim, keys, tc.want)
		}
	}

	// Listed objects agree with Stat.
	err := s.List(t.Context(), backend.ListOptions{}, func(oi backend.ObjectInfo) error {
		st := mustStat(t, s, oi.Key)
		if oi.Size != st.Size || oi.ETag != st.ETag {
			t.Errorf("List %q: size %d ETag %q; Stat: %d %q", oi.Key, oi.Size, oi.ETag, st.Size, st.ETag)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.List(t.Context(), backend.ListOptions{Delimiter: ","}, func(backend.ObjectInfo) error { return nil }); err == nil {
		t.Error("List with delimiter \",\" succeeded")
	}
}

func testListStartAfter(t *testing.T, s backend.Store, _ Options) {
	putTree(t, s)
	afters := append([]string{"", "a", "a/b", "a/b/c", "a/b/c/z", "a/b/w", "a/c", "b", "zz"}, tree...)
	for _, base := range []backend.ListOptions{
		{},
		{Delimiter: "/"},
		{Prefix: "a/", Delimiter: "/"},
		{Prefix: "a/b/"},
		{Prefix: "a/b"},
	} {
		all := listed(t, s, base)
		for _, after := range afters {
			var want []string
			for _, k := range all {
				if strings.Trim(k, "[]") > after {
					want = append(want, k)
				}
			}
			opts := base
			opts.StartAfter = after
			if got := listed(t, s, opts); !slices.Equal(got, want) {
				t.Errorf("List(%+v)\n got %q\nwant %q", opts, got, want)
			}
		}
	}
}

// testListPaging resumes a listing from the last key seen, as a caller
// paging through a large directory does.
func testListPaging(t *testing.T, s backend.Store, _ Options) {
	putTree(t, s)
	for _, base := range []backend.ListOptions{{}, {Delimiter: "/"}, {Prefix: "a/", Delimiter: "/"}} {
		want := listed(t, s, base)
		var got []string
		opts := base
		for page := 0; ; page++ {
			if page > len(want) {
				t.Fatalf("List(%+v) does not end", base)
			}
			n := 0
			err := s.List(t.Context(), opts, func(oi backend.ObjectInfo) error {
				k := oi.Key
				if oi.Prefix {
					k = "[" + k + "]"
				}
				got = append(got, k)
				opts.StartAfter = oi.Key
				if n++; n == 2 {
					return backend.ErrStopList
				}
				return nil
			})
			if err != nil {
				t.Fatalf("List with ErrStopList: %v", err)
			}
			if n < 2 {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged List(%+v)\n got %q\nwant %q", base, got, want)
		}
	}
}

func testListCallbackError(t *testing.T, s backend.Store, _ Options) {
	putTree(t, s)
	boom := errors.New("boom")
	for _, opts := range []backend.ListOptions{{}, {Delimiter: "/"}} {
		calls := 0
		err := s.List(t.Context(), opts, func(backend.ObjectInfo) error {
			calls++
			return fmt.Errorf("wrapped: %w", boom)
		})
		if !errors.Is(err, boom) || calls != 1 {
			t.Errorf("List(%+v) = %v after %d calls, want boom after 1", opts, err, calls)
		}
	}
}

func testListLarge(t *testing.T, s backend.Store, _ Options) {
	const n = 3000
	keys := []string{"big/"}
	for i := range n {
		keys = append(keys, fmt.Sprintf("big/k%05d", i))
	}
	mustPut(t, s, "big/", "", nil)
	putAll(t, s, keys[1:])

	for _, opts := range []backend.ListOptions{{}, {Prefix: "big/", Delimiter: "/"}, {Prefix: "big/"}} {
		if got := listed(t, s, opts); !slices.Equal(got, keys) {
			t.Errorf("List(%+v): %d keys, want %d in order", opts, len(got), len(keys))
		}
	}
	var got []string
	opts := backend.ListOptions{Prefix: "big/", Delimiter: "/"}
	for len(got) < len(keys) {
		before := len(got)
		err := s.List(t.Context(), opts, func(oi backend.ObjectInfo) error {
			got = append(got, oi.Key)
			opts.StartAfter = oi.Key
			if len(got)%1000 == 0 {
				return backend.ErrStopList
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == before {
			break
		}
	}
	if !slices.Equal(got, keys) {
		t.Errorf("paged List: %d keys, want %d in order", len(got), len(keys))
	}
}

// putAll puts a small body under each key from a few goroutines.
func putAll(t *testing.T, s backend.Store, keys []string) {
	t.Helper()
	const workers = 16
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(keys); i += workers {
				k := keys[i]
				if _, err := s.Put(t.Context(), k, strings.NewReader(k), int64(len(k)), nil); err != nil {
					t.Errorf("Put(%q): %v", k, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
}
