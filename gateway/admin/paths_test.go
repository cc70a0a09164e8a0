package admin

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/filegate/filegate/cache"
)

func TestAdminPathVerbs(t *testing.T) {
	e := newAdminEnv(t)
	e.writeFile(cache.RootIno, "f.txt", strings.Repeat("x", 4096))
	if code, b := e.do("POST", "/v1/flush", map[string]any{"path": "/f.txt", "wait": true}); code != 200 {
		t.Fatalf("flush: %d %s", code, b)
	}
	for _, tt := range []struct {
		path string
		body any
		code int
		want string
	}{
		{"/v1/pin", map[string]any{"path": "/f.txt"}, 200, `"files": 1`},
		{"/v1/evict", map[string]any{"path": "f.txt"}, 200, `"files": 0`}, // pinned: stays
		{"/v1/unpin", map[string]any{"path": "/f.txt"}, 200, `"files": 1`},
		{"/v1/evict", map[string]any{"path": "/"}, 200, `"bytes": 4096`},
		{"/v1/refresh", map[string]any{"path": "/f.txt"}, 200, `"refreshed": true`},
		{"/v1/refresh", map[string]any{"path": ""}, 200, `"path": "/"`},
		{"/v1/pin", map[string]any{"path": "/nope/x"}, 404, "/nope/x: no such file or directory"},
		{"/v1/evict", map[string]any{"path": "/f.txt/x"}, 404, "not a directory"},
		{"/v1/pin", map[string]any{"pat": "/f.txt"}, 400, "unknown field"},
		{"/v1/nothing", nil, 404, "no endpoint"},
	} {
		code, b := e.do("POST", tt.path, tt.body)
		if code != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("%s %v: %d %s, want %d with %q", tt.path, tt.body, code, b, tt.code, tt.want)
		}
	}
	// The evicted file reads back from the backend.
	s := e.status()
	if s.Cache.UsedBytes != 0 {
		t.Errorf("used %d after evicting everything", s.Cache.UsedBytes)
	}
}

// TestAdminSplit: which export a path names, and the path inside it.
func TestAdminSplit(t *testing.T) {
	admin := func(names ...string) *Server {
		a := &Server{}
		for _, n := range names {
			a.xs = append(a.xs, &export{name: n})
		}
		return a
	}
	two, withRoot, single := admin("/office", "/projects"), admin("/", "/office"), admin("/office")
	tests := []struct {
		a             *Server
		path, export  string
		wantX, wantIn string // wantX "*": every export's root
		wantErr       string
	}{
		{two, "/office/docs/a.txt", "", "/office", "/docs/a.txt", ""},
		{two, "office/docs/", "", "/office", "/docs", ""},
		{two, "/office", "", "/office", "/", ""},
		{two, "/projects/../office/x", "", "/office", "/x", ""},
		{two, "/", "", "*", "/", ""},
		{two, "", "", "*", "/", ""},
		{two, "/officex/a", "", "", "", "/officex/a is in no export: give the export's name first, such as /office/officex/a (the exports: /office, /projects)"},
		{two, "/docs", "", "", "", "is in no export"},
		{two, "/a/b", "/projects", "/projects", "/a/b", ""},
		{two, "a", "projects/", "/projects", "/a", ""},
		{two, "/office/a", "/projects", "/projects", "/office/a", ""},
		{two, "/a", "/nope", "", "", "no export /nope (the exports: /office, /projects)"},
		{withRoot, "/office/a", "", "/office", "/a", ""},
		{withRoot, "/a", "", "/", "/a", ""},
		{withRoot, "/", "", "/", "/", ""},
		{single, "/docs/a", "", "/office", "/docs/a", ""},
		{single, "/office/docs", "", "/office", "/docs", ""},
		{single, "/", "", "*", "/", ""},
	}
	for _, tt := range tests {
		x, in, err := tt.a.split(tt.path, tt.export)
		name := tt.path + " export " + tt.export
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: %v, want error %q", name, err, tt.wantErr)
			}
			var he *httpError
			if !errors.As(err, &he) || he.code != http.StatusNotFound {
				t.Errorf("%s: error %v is not a 404", name, err)
			}
		case err != nil:
			t.Errorf("%s: %v", name, err)
		case tt.wantX == "*":
			if x != nil || in != "/" {
				t.Errorf("%s: %v %q, want every export", name, x, in)
			}
		case x == nil || x.name != tt.wantX || in != tt.wantIn:
			t.Errorf("%s: %v %q, want %s %q", name, x, in, tt.wantX, tt.wantIn)
		}
	}
}
