package main

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestExportsConfig(t *testing.T) {
	two := `
[server]
state_dir = "/var/lib/filegate"
[[exports]]
name = "/office"
clients = ["10.0.0.0/24"]
squash = "all"
anonuid = 1000
[[exports]]
name = "/projects"
read_only = true
secure = true
[exports.backend]
type = "s3"
[exports.backend.s3]
bucket = "projects"
prefix = "p/"
`
	tests := []struct {
		name string
		text string
		errs []string // all in the message; none: valid
	}{
		{name: "two exports", text: two},
		{name: "bad and duplicate names", text: "[server]\n[[exports]]\nname = \"/a\"\n[[exports]]\nname = \"b/\"\n[[exports]]\nname = \"/a\"\n[[exports]]\n",
			errs: []string{`exports[2].name "b/"`, `clean absolute path`, `exports[3].name "/a"`, `exports[1] has this name too`, `exports[4].name ""`}},
		{name: "bad options named with index", text: "[server]\n[[exports]]\nname = \"/a\"\nsquash = \"some\"\nclients = [\"10.0.0.0/33\"]\n[exports.backend]\ntype = \"ftp\"\n",
			errs: []string{`exports[1].squash "some"`, `exports[1].clients "10.0.0.0/33"`, `exports[1].backend.type "ftp"`}},
		{name: "s3 keys named with index", text: "[server]\n[[exports]]\nname = \"/a\"\n[[exports]]\nname = \"/b\"\nbackend = { type = \"s3\", s3 = { prefix = \"x\" } }\n",
			errs: []string{`exports[2].backend.s3.bucket ""`, `exports[2].backend.s3.prefix "x"`}},
		{name: "top-level export keys refused", text: "[server]\nexport_name = \"/x\"\nsquash = \"none\"\nread_only = true\n[backend]\npath = \"/srv\"\n[[exports]]\nname = \"/a\"\n",
			errs: []string{`server.export_name "/x"`, `server.squash "none"`, `server.read_only "true"`, `config: backend "/srv"`, `set this key in each [[exports]] table`}},
		{name: "unknown key in a table", text: "[server]\n[[exports]]\nname = \"/a\"\nreadonly = true\n",
			errs: []string{"unknown key", "exports.readonly"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := decodeConfig(tt.text)
			if err == nil {
				err = cfg.Validate()
			}
			if len(tt.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, want := range tt.errs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
		})
	}

	cfg, err := decodeConfig(two)
	if err != nil {
		t.Fatal(err)
	}
	units := cfg.ExportUnits()
	if len(units) != 2 {
		t.Fatalf("%d units", len(units))
	}
	o, p := units[0].Config, units[1].Config
	if o.Server.StateDir != "/var/lib/filegate/exports/office" || p.Server.StateDir != "/var/lib/filegate/exports/projects" {
		t.Errorf("state folders %s %s", o.Server.StateDir, p.Server.StateDir)
	}
	if o.BackendPath() != "/var/lib/filegate/exports/office/backend" || o.Backend.Type != BackendPOSIX {
		t.Errorf("office backend %s %s", o.Backend.Type, o.BackendPath())
	}
	if o.Server.Squash != "all" || o.Server.AnonUID != 1000 || o.Server.AnonGID != 65534 || !reflect.DeepEqual(o.Server.Clients, []string{"10.0.0.0/24"}) {
		t.Errorf("office options %+v", o.Server)
	}
	if p.Server.Squash != "root" || !p.Server.ReadOnly || !p.Server.Secure || p.Server.AnonUID != 65534 {
		t.Errorf("projects options %+v", p.Server)
	}
	if p.S3().Bucket != "projects" || p.S3().Prefix != "p/" || p.S3().PartSize != DefaultConfig().S3().PartSize {
		t.Errorf("projects s3 %+v", p.S3())
	}
	if units[0].ID == units[1].ID || units[0].ID != exportID("/office") {
		t.Errorf("ids %d %d", units[0].ID, units[1].ID)
	}
	// Without [[exports]]: the top-level export, as always.
	def := DefaultConfig()
	if u := def.ExportUnits(); len(u) != 1 || u[0].ID != 1 || !reflect.DeepEqual(u[0].Config, def) {
		t.Errorf("single export %+v", u)
	}
	for name, want := range map[string]string{"/": "%2F", "/a/b": "a%2Fb", "/office": "office"} {
		if got := exportFolder(name); got != want || filepath.Base(got) != got {
			t.Errorf("exportFolder(%q) = %q, want %q", name, got, want)
		}
	}
}
