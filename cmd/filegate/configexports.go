package main

import (
	"fmt"
	"hash/fnv"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// [[exports]] expansion: each export as a Config of its own, with its
// state folder and file handle export id.

// exportID is the file handle export id of the [[exports]] named name: a
// hash of the name, so it stays when exports are added, removed or
// reordered (the single top-level export keeps id 1).
func exportID(name string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(name))
	return h.Sum32()
}

// ExportUnit is one export as served: a Config whose [server] export
// keys, [backend] and server.state_dir are the export's (its cache is
// STATE_DIR/cache of that Config), and its handle export id.
type ExportUnit struct {
	Config Config
	ID     uint32
}

// Absolute returns c with the state folder and every backend path made
// absolute against the working directory, as the documentation of
// server.state_dir promises; the stores take absolute paths only.
func (c Config) Absolute() (Config, error) {
	abs := func(key string, p *string) error {
		if *p == "" || filepath.IsAbs(*p) {
			return nil
		}
		a, err := filepath.Abs(*p)
		if err != nil {
			return fmt.Errorf("config: %s %q: %w", key, *p, err)
		}
		*p = a
		return nil
	}
	if err := abs("server.state_dir", &c.Server.StateDir); err != nil {
		return c, err
	}
	if err := abs("backend.path", &c.Backend.Path); err != nil {
		return c, err
	}
	c.Exports = slices.Clone(c.Exports)
	for i := range c.Exports {
		if err := abs(fmt.Sprintf("exports[%d].backend.path", i+1), &c.Exports[i].Backend.Path); err != nil {
			return c, err
		}
	}
	return c, nil
}

// ExportUnits returns the exports to serve: the top-level export (id 1,
// cache in server.state_dir/cache, so a single-export setup keeps its
// handles and cache) when there is no [[exports]], else one per table,
// whose state folder is STATE_DIR/exports/NAME (NAME path-escaped, "/"
// as %2F).
func (c Config) ExportUnits() []ExportUnit {
	if len(c.Exports) == 0 {
		return []ExportUnit{{Config: c, ID: 1}}
	}
	out := make([]ExportUnit, len(c.Exports))
	for i, x := range c.Exports {
		u := c
		u.Exports = nil
		u.Backend = x.Backend
		u.Server.StateDir = filepath.Join(c.Server.StateDir, "exports", exportFolder(x.Name))
		u.Server.ExportName, u.Server.Squash, u.Server.Clients = x.Name, x.Squash, x.Clients
		u.Server.ReadOnly, u.Server.Secure = x.ReadOnly, x.Secure
		if x.AnonUID != nil {
			u.Server.AnonUID = *x.AnonUID
		}
		if x.AnonGID != nil {
			u.Server.AnonGID = *x.AnonGID
		}
		out[i] = ExportUnit{Config: u, ID: exportID(x.Name)}
	}
	return out
}

// exportFolder names the state folder of export name: "/office" is
// "office", "/a/b" "a%2Fb", "/" "%2F"; no two names share one.
func exportFolder(name string) string {
	if name == "/" {
		return url.PathEscape("/")
	}
	return url.PathEscape(strings.TrimPrefix(name, "/"))
}
