package gateway

import (
	"path"
	"strings"
)

// ExportOf returns which export, of those named names, holds the path p
// (made clean and absolute first): the one with the longest name that is
// p or a folder above it, so /office/docs belongs to /office rather than
// to /. It returns the export's index and p's path inside it ("/" for
// its root), or -1 and "" when no export holds p. MNT and the admin verbs
// both use it, so a path names the same export for a client and for an
// operator.
func ExportOf(names []string, p string) (int, string) {
	p = path.Clean("/" + p)
	best := -1
	for i, name := range names {
		holds := name == "/" || p == name || strings.HasPrefix(p, name+"/")
		if holds && (best < 0 || len(name) > len(names[best])) {
			best = i
		}
	}
	if best < 0 {
		return -1, ""
	}
	return best, path.Clean("/" + strings.TrimPrefix(p, names[best]))
}
