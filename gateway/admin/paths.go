package admin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"syscall"

	"github.com/filegate/filegate/cache"
	"github.com/filegate/filegate/gateway"
)

// How a request's path names an export and a file or directory in it.

// target is a file or directory of one export that a request names.
type target struct {
	x      *export
	attr   cache.Attr
	inside string // the path inside x
	path   string // as the admin verbs take it
}

// names lists the exports' names, in order.
func (a *Server) names() []string {
	names := make([]string, len(a.xs))
	for i, x := range a.xs {
		names[i] = x.name
	}
	return names
}

// exportNames lists the exports' names, for messages.
func (a *Server) exportNames() string { return strings.Join(a.names(), ", ") }

// split finds the export p names and the path inside it (see the API
// comment): nil for every export's root.
func (a *Server) split(p, exportName string) (*export, string, error) {
	clean := path.Clean("/" + p)
	if exportName != "" {
		name := path.Clean("/" + exportName)
		for _, x := range a.xs {
			if x.name == name {
				return x, clean, nil
			}
		}
		return nil, "", &httpError{http.StatusNotFound, fmt.Errorf("no export %s (the exports: %s)", name, a.exportNames())}
	}
	i, inside := gateway.ExportOf(a.names(), clean)
	switch {
	case i >= 0:
		return a.xs[i], inside, nil
	case clean == "/":
		return nil, "/", nil
	case len(a.xs) == 1:
		return a.xs[0], clean, nil
	}
	return nil, "", &httpError{http.StatusNotFound, fmt.Errorf("%s is in no export: give the export's name first, such as %s (the exports: %s)",
		clean, path.Join(a.xs[0].name, clean), a.exportNames())}
}

// resolve returns what p names: a file or directory of one export, or
// every export's root.
func (a *Server) resolve(ctx context.Context, p, exportName string) ([]target, error) {
	x, inside, err := a.split(p, exportName)
	if err != nil {
		return nil, err
	}
	if x == nil {
		out := make([]target, 0, len(a.xs))
		for _, x := range a.xs {
			attr, err := x.c.GetAttr(ctx, cache.RootIno)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", x.name, err)
			}
			out = append(out, target{x: x, attr: attr, inside: "/", path: x.name})
		}
		return out, nil
	}
	attr, err := x.walk(ctx, inside)
	if err != nil {
		return nil, err
	}
	return []target{{x: x, attr: attr, inside: inside, path: x.adminPath(inside)}}, nil
}

// walk looks up the clean path p from x's root.
func (x *export) walk(ctx context.Context, p string) (cache.Attr, error) {
	ino := cache.RootIno
	for name := range strings.SplitSeq(strings.TrimPrefix(p, "/"), "/") {
		if name == "" {
			continue
		}
		attr, err := x.c.Lookup(ctx, ino, name)
		if err != nil {
			shown := x.adminPath(p)
			if errors.Is(err, fs.ErrNotExist) {
				return cache.Attr{}, &httpError{http.StatusNotFound, fmt.Errorf("%s: no such file or directory in the export", shown)}
			}
			if errors.Is(err, syscall.ENOTDIR) {
				return cache.Attr{}, &httpError{http.StatusNotFound, fmt.Errorf("%s: a component is not a directory", shown)}
			}
			return cache.Attr{}, fmt.Errorf("%s: %w", shown, err)
		}
		ino = attr.Ino
	}
	return x.c.GetAttr(ctx, ino)
}

// shownPath is how an answer names the targets.
func shownPath(ts []target) string {
	if len(ts) == 1 {
		return ts[0].path
	}
	return "/"
}

// pathOp decodes a path request and resolves its path.
func (a *Server) pathOp(w http.ResponseWriter, r *http.Request) (pathRequest, []target, string, bool) {
	var req pathRequest
	if err := decodeBody(r, &req); err != nil {
		writeErr(w, err)
		return req, nil, "", false
	}
	ts, err := a.resolve(r.Context(), req.Path, req.Export)
	if err != nil {
		writeErr(w, err)
		return req, nil, "", false
	}
	return req, ts, shownPath(ts), true
}
