package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/filegate/filegate/backend"
)

var _ backend.Store = (*Store)(nil)

// Store holds objects in a map. The zero value is not usable; call New.
type Store struct {
	mu   sync.RWMutex
	objs map[string]*object
	gen  uint64 // bumped by every write; the source of ETags
}

// object is immutable once stored, so readers may keep it after unlocking.
type object struct {
	data  []byte
	attrs *backend.Attrs
	mod   time.Time
	etag  string
}

// New returns an empty store.
func New() *Store {
	return &Store{objs: make(map[string]*object)}
}

func (o *object) info(key string) backend.ObjectInfo {
	return backend.ObjectInfo{
		Key:     key,
		Size:    int64(len(o.data)),
		ModTime: o.mod,
		ETag:    o.etag,
		Attrs:   cloneAttrs(o.attrs),
	}
}

func cloneAttrs(a *backend.Attrs) *backend.Attrs {
	if a == nil {
		return nil
	}
	c := *a
	return &c
}

func notExist(op, key string) error {
	return fmt.Errorf("memstore: %s %s: %w", op, key, fs.ErrNotExist)
}

func check(ctx context.Context, op string, keys ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memstore: %s: %w", op, err)
	}
	for _, k := range keys {
		if err := backend.ValidateKey(k); err != nil {
			return fmt.Errorf("memstore: %s: %w", op, err)
		}
	}
	return nil
}

// storeLocked installs o under key with a fresh ETag.
func (s *Store) storeLocked(key string, o *object) {
	s.gen++
	o.etag = strconv.FormatUint(s.gen, 16)
	o.mod = time.Now()
	s.objs[key] = o
}

// Stat implements backend.Store.
func (s *Store) Stat(ctx context.Context, key string) (backend.ObjectInfo, error) {
	if err := check(ctx, "stat", key); err != nil {
		return backend.ObjectInfo{}, err
	}
	s.mu.RLock()
	o := s.objs[key]
	s.mu.RUnlock()
	if o == nil {
		return backend.ObjectInfo{}, notExist("stat", key)
	}
	return o.info(key), nil
}

// Get implements backend.Store.
func (s *Store) Get(ctx context.Context, key string, off, length int64, etag string) (io.ReadCloser, error) {
	if err := check(ctx, "get", key); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("memstore: get %s: negative offset %d", key, off)
	}
	s.mu.RLock()
	o := s.objs[key]
	s.mu.RUnlock()
	if o == nil {
		return nil, notExist("get", key)
	}
	if etag != "" && etag != o.etag {
		return nil, fmt.Errorf("memstore: get %s: holds version %s, not %s: %w", key, o.etag, etag, backend.ErrChanged)
	}
	data := o.data[min(off, int64(len(o.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Put implements backend.Store.
func (s *Store) Put(ctx context.Context, key string, r io.ReadSeeker, size int64, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, "put", key); err != nil {
		return backend.ObjectInfo{}, err
	}
	if err := checkPut(key, size, attrs); err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("memstore: put %s: %w", key, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return backend.ObjectInfo{}, fmt.Errorf("memstore: put %s: %w", key, err)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return backend.ObjectInfo{}, fmt.Errorf("memstore: put %s: %w", key, err)
	}
	o := &object{data: data, attrs: cloneAttrs(attrs)}
	s.mu.Lock()
	s.storeLocked(key, o)
	s.mu.Unlock()
	return o.info(key), nil
}

func checkPut(key string, size int64, attrs *backend.Attrs) error {
	switch {
	case size < 0:
		return fmt.Errorf("negative size %d", size)
	case strings.HasSuffix(key, "/") && size != 0:
		return fmt.Errorf("directory marker with a body of %d bytes", size)
	case strings.HasSuffix(key, "/") && attrs != nil && attrs.Mode&fs.ModeSymlink != 0:
		return errors.New("directory marker with symlink mode")
	}
	return nil
}

// Delete implements backend.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := check(ctx, "delete", key); err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.objs, key)
	s.mu.Unlock()
	return nil
}

// Copy implements backend.Store.
func (s *Store) Copy(ctx context.Context, src, dst string, attrs *backend.Attrs) (backend.ObjectInfo, error) {
	if err := check(ctx, "copy", src, dst); err != nil {
		return backend.ObjectInfo{}, err
	}
	if strings.HasSuffix(src, "/") != strings.HasSuffix(dst, "/") {
		return backend.ObjectInfo{}, fmt.Errorf("memstore: copy %s to %s: one is a directory marker: %w", src, dst, backend.ErrInvalidKey)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.objs[src]
	if o == nil {
		return backend.ObjectInfo{}, notExist("copy", src)
	}
	if src == dst && attrs == nil {
		return o.info(dst), nil
	}
	c := &object{data: o.data, attrs: cloneAttrs(o.attrs)}
	if attrs != nil {
		c.attrs = cloneAttrs(attrs)
	}
	s.storeLocked(dst, c)
	return c.info(dst), nil
}
