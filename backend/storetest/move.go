package storetest

import (
	"errors"
	"io/fs"
	"slices"
	"testing"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/move"
)

// testMove renames a file and a directory with package move, through the
// store's Renamer if it has one and by Copy and Delete in any case.
func testMove(t *testing.T, s backend.Store, _ Options) {
	type way struct {
		name string
		s    backend.Store
	}
	// The bare Store hides any Renamer, so move copies and deletes.
	ways := []way{{"copy", struct{ backend.Store }{s}}}
	if _, ok := s.(backend.Renamer); ok {
		ways = append(ways, way{"rename", s})
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := t.Context()
			src, dst := w.name+"-src", w.name+"-dst"
			mustPut(t, s, src+"/", "", nil)
			mustPut(t, s, src+"/f", "one", nil)
			mustPut(t, s, src+"/sub/", "", nil)
			mustPut(t, s, src+"/sub/g", "two", nil)
			moved, err := move.Key(ctx, w.s, src+"/f", src+"/h")
			if err != nil {
				t.Fatalf("move.Key of a file: %v", err)
			}
			if st := mustStat(t, s, src+"/h"); moved.Key != st.Key || moved.ETag != st.ETag || moved.Size != 3 {
				t.Errorf("move.Key returned %+v, the store holds %+v", moved, st)
			}
			wantNotExist(t, s, src+"/f")
			if _, err := move.Key(ctx, w.s, src+"/f", src+"/h"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("move.Key of a moved file = %v, want fs.ErrNotExist", err)
			}
			if _, err := move.Key(ctx, w.s, src+"/", dst+"/"); err != nil {
				t.Fatalf("move.Key of a directory: %v", err)
			}
			want := []string{dst + "/", dst + "/h", dst + "/sub/", dst + "/sub/g"}
			if got := listed(t, s, backend.ListOptions{Prefix: dst + "/"}); !slices.Equal(got, want) {
				t.Errorf("List after the move = %q, want %q", got, want)
			}
			if got := listed(t, s, backend.ListOptions{Prefix: src + "/"}); len(got) != 0 {
				t.Errorf("List of the old name = %q", got)
			}
			if got := mustGet(t, s, dst+"/sub/g"); got != "two" {
				t.Errorf("Get after the move = %q", got)
			}
		})
	}
}
