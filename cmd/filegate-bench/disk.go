package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// diskTarget runs the workloads on a bare folder of the same disk; with
// sync it fsyncs each file on close, the durability filegate gives every
// NFS WRITE.
type diskTarget struct {
	root string
	sync bool
}

func newDiskTarget(root string, sync bool) *diskTarget {
	os.MkdirAll(root, 0o755)
	return &diskTarget{root: root, sync: sync}
}

func (d *diskTarget) name() string {
	if d.sync {
		return "bare dir + fsync"
	}
	return "bare dir"
}

func (d *diskTarget) p(path string) string { return filepath.Join(d.root, path) }

func (d *diskTarget) finish(f *os.File, err error) error {
	if err == nil && d.sync {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func (d *diskTarget) createFile(path string, data []byte) error {
	f, err := os.OpenFile(d.p(path), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return d.finish(f, err)
}

func (d *diskTarget) stat(path string) error {
	_, err := os.Lstat(d.p(path))
	return err
}

func (d *diskTarget) readDir(path string) (int, error) {
	ents, err := os.ReadDir(d.p(path))
	return len(ents), err
}

func (d *diskTarget) mkdir(path string) error { return os.Mkdir(d.p(path), 0o755) }

func (d *diskTarget) writeFile(path string, chunk []byte, total int64) error {
	f, err := os.Create(d.p(path))
	if err != nil {
		return err
	}
	for n := int64(0); n < total && err == nil; n += int64(len(chunk)) {
		_, err = f.Write(chunk)
	}
	return d.finish(f, err)
}

func (d *diskTarget) readFile(path string, buf []byte) (int64, error) {
	f, err := os.Open(d.p(path))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return drain(f, buf)
}

func (d *diskTarget) close() error { return nil }

// drain reads r to the end in len(buf) pieces. io.Copy to io.Discard
// would read 8 KiB at a time whatever buffer it is given.
func drain(r io.Reader, buf []byte) (int64, error) {
	var total int64
	for {
		n, err := r.Read(buf)
		total += int64(n)
		if errors.Is(err, io.EOF) {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}
