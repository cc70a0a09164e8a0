package cache

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/filegate/filegate/backend"
	"github.com/filegate/filegate/backend/faultstore"
	"github.com/filegate/filegate/backend/memstore"
)

// hashingStore refuses a Put whose body changed while it was sent, as
// S3 refuses one that does not match the hash signed before sending
// (XAmzContentSHA256Mismatch): it reads the body, runs during once,
// reads the body again and compares.
type hashingStore struct {
	backend.Store
	during func()
}

func (s *hashingStore) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	signed, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	if s.during != nil {
		during := s.during
		s.during = nil
		during()
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return backend.ObjectInfo{}, err
	}
	sent, err := io.ReadAll(io.LimitReader(r, size))
	if err != nil {
		return backend.ObjectInfo{}, err
	}
	if !bytes.Equal(signed, sent) {
		return backend.ObjectInfo{}, errors.New("hashingStore: the body does not match its hash")
	}
	return s.Store.Put(ctx, key, bytes.NewReader(sent), size, attrs)
}

// TestUploadRacingAnOverwriteIsNoFailure: an upload the store refuses
// because the file changed under it is no backend failure: the file is
// uploaded again and no upload error is counted.
func TestUploadRacingAnOverwriteIsNoFailure(t *testing.T) {
	ctx := context.Background()
	mem := memstore.New()
	s := &hashingStore{Store: mem}
	// Uploads only at flush: one before s.during is set would race with
	// setting it.
	c := newSizedCache(t, t.TempDir(), s, func(cfg *Config) { cfg.UploadDelay = time.Hour })
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "hello")
	flush(t, c)
	mustWrite(t, c, f.Ino, 5, ", world")
	s.during = func() {
		if _, _, err := c.WriteAt(ctx, f.Ino, []byte("J"), 0); err != nil {
			t.Error(err)
		}
		if _, err := c.Commit(ctx, f.Ino); err != nil {
			t.Error(err)
		}
	}
	flush(t, c)
	if s.during != nil {
		t.Fatal("the hook did not run")
	}
	if got := storeBody(t, mem, "f"); got != "Jello, world" {
		t.Fatalf("backend has %q", got)
	}
	if st := c.Stats(); st.UploadErrors != 0 || st.LastError != "" || len(st.Failing) != 0 {
		t.Fatalf("an upload raced by a write counted as failed: %d errors, last %q, failing %v", st.UploadErrors, st.LastError, st.Failing)
	}
}

// TestLastErrorOutlivesTheRetry: Stats.LastError says why the upload
// errors counted failed, also once a retry succeeded.
func TestLastErrorOutlivesTheRetry(t *testing.T) {
	mem := memstore.New()
	fs := faultstore.New(mem)
	c := newSizedCache(t, t.TempDir(), fs, nil)
	fs.Set(faultstore.Put, faultstore.Fault{Err: errors.New("boom"), Times: 1})
	f := mustCreate(t, c, RootIno, "f")
	mustWrite(t, c, f.Ino, 0, "x")
	flush(t, c)
	if got := storeBody(t, mem, "f"); got != "x" {
		t.Fatalf("backend has %q", got)
	}
	st := c.Stats()
	if st.UploadErrors != 1 || !strings.Contains(st.LastError, "boom") {
		t.Fatalf("after a failed upload retried: %d errors, last %q; want 1 and boom", st.UploadErrors, st.LastError)
	}
	if len(st.Failing) != 0 {
		t.Fatalf("failing after the retry succeeded: %v", st.Failing)
	}
}
