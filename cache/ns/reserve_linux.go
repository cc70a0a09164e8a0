package ns

import (
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// dbReserveMax bounds the room kept allocated past the end of the
// namespace database; a sixteenth of a smaller filesystem is kept.
const dbReserveMax = 8 << 20

// Reserve keeps the blocks of the namespace database allocated, holes
// included, and room past its end (not counted in its size), so that a
// transaction commits on a cache disk that data files filled: a remove
// that would free space, above all. bbolt grows its file by truncate,
// and a hole takes blocks only when a page is written there. It is best
// effort: without fallocate, or on a disk already full, nothing changes.
func (d *DB) Reserve() {
	path := filepath.Join(d.dir, "namespace.db")
	st, err := os.Stat(path)
	if err != nil {
		return
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return
	}
	room := min(int64(dbReserveMax), int64(fs.Blocks)*int64(fs.Bsize)/16)
	want := st.Size() + room
	if want <= d.reserved.Load() {
		return
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_KEEP_SIZE, 0, want); err == nil {
		d.reserved.Store(want)
	}
}
