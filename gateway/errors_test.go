package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
	"testing"
)

// staleErr mimics a cache error that satisfies several errnos.
type staleErr struct{}

func (staleErr) Error() string { return "stale" }
func (staleErr) Is(target error) bool {
	return target == syscall.ESTALE || target == syscall.ENOENT
}

func TestPathError(t *testing.T) {
	f := &fsys{log: slog.New(slog.DiscardHandler)}
	tests := []struct {
		name string
		in   error
		want error // the PathError's Err, exactly
	}{
		{"enoent", fmt.Errorf("cache: lookup x: %w", syscall.ENOENT), fs.ErrNotExist},
		{"estale", fmt.Errorf("cache: getattr: %w", syscall.ESTALE), fs.ErrNotExist},
		{"custom Is", staleErr{}, fs.ErrNotExist},
		{"fs.ErrNotExist", fs.ErrNotExist, fs.ErrNotExist},
		{"eperm", syscall.EPERM, fs.ErrPermission},
		{"eacces", fmt.Errorf("x: %w", syscall.EACCES), fs.ErrPermission},
		{"eexist", fmt.Errorf("x: %w", syscall.EEXIST), syscall.EEXIST},
		{"enotempty", fmt.Errorf("x: %w", syscall.ENOTEMPTY), syscall.ENOTEMPTY},
		{"enospc", fmt.Errorf("x: %w", syscall.ENOSPC), syscall.ENOSPC},
		{"nested path error", &fs.PathError{Op: "open", Path: "p", Err: syscall.EISDIR}, syscall.EISDIR},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), syscall.ETIMEDOUT},
		{"unknown", errors.New("boom"), syscall.EIO},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := f.pathError("op", "a/b", tt.in)
			var pe *fs.PathError
			if !errors.As(err, &pe) || pe.Err != tt.want {
				t.Fatalf("pathError(%v) = %#v, want Err %v", tt.in, err, tt.want)
			}
			if pe.Op != "op" || pe.Path != "a/b" {
				t.Fatalf("op/path = %q/%q", pe.Op, pe.Path)
			}
			// go-nfs's tests, which look one level deep.
			if os.IsNotExist(err) != (tt.want == fs.ErrNotExist) {
				t.Fatalf("os.IsNotExist(%v) wrong", err)
			}
			if os.IsPermission(err) != (tt.want == fs.ErrPermission) {
				t.Fatalf("os.IsPermission(%v) wrong", err)
			}
		})
	}
	if err := f.pathError("read", "x", io.EOF); err != io.EOF {
		t.Fatalf("io.EOF became %v", err)
	}
	if err := f.pathError("read", "x", nil); err != nil {
		t.Fatalf("nil became %v", err)
	}
}

func TestSplitPath(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  error
	}{
		{"", nil, nil},
		{"/", nil, nil},
		{".", nil, nil},
		{"a", []string{"a"}, nil},
		{"/a//b/", []string{"a", "b"}, nil},
		{"a/.", nil, syscall.EINVAL},
		{"a/..", nil, syscall.EINVAL},
		{"../a", nil, syscall.EINVAL},
		{"a/b\x00c", nil, syscall.EINVAL},
		{poison + "/" + poison, nil, syscall.EIO},
		{string(make([]byte, 256)), nil, syscall.EINVAL},
	}
	for _, tt := range tests {
		got, err := splitPath(tt.in)
		if !errors.Is(err, tt.err) || fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("splitPath(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	long := make([]byte, 256)
	for i := range long {
		long[i] = 'x'
	}
	if _, err := splitPath("a/" + string(long)); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("long name: %v", err)
	}
}

func TestJoin(t *testing.T) {
	f := &fsys{}
	tests := []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{"a", "b"}, "a/b"},
		{[]string{"/", "a"}, "/a"},
		{[]string{"", "a", "", "b"}, "a/b"},
		{[]string{"a", ".."}, "a/.."},
	}
	for _, tt := range tests {
		if got := f.Join(tt.in...); got != tt.want {
			t.Errorf("Join(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
