package gateway

import "testing"

func TestExportOf(t *testing.T) {
	two := []string{"/office", "/projects"}
	nested := []string{"/", "/office", "/office/archive"}
	tests := []struct {
		names   []string
		path    string
		want    int
		wantIn  string
		comment string
	}{
		{two, "/office/docs/a.txt", 0, "/docs/a.txt", "below an export"},
		{two, "/office", 0, "/", "the export itself"},
		{two, "office/docs/", 0, "/docs", "made clean and absolute"},
		{two, "/projects/../office/x", 0, "/x", "dot-dot resolved first"},
		{two, "/officex/a", -1, "", "a name's prefix is not a folder above"},
		{two, "/", -1, "", "no export is named /"},
		{two, "", -1, "", "empty is /"},
		{nested, "/a", 0, "/a", "/ holds everything"},
		{nested, "/", 0, "/", "the root export's root"},
		{nested, "/office/a", 1, "/a", "longest name wins"},
		{nested, "/office/archive", 2, "/", "longest name wins, at its root"},
		{nested, "/office/archive2", 1, "/archive2", "a sibling of a longer name"},
		{nil, "/a", -1, "", "no exports"},
	}
	for _, tt := range tests {
		got, in := ExportOf(tt.names, tt.path)
		if got != tt.want || in != tt.wantIn {
			t.Errorf("%v %q (%s): %d %q, want %d %q", tt.names, tt.path, tt.comment, got, in, tt.want, tt.wantIn)
		}
	}
}
