package cache

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// sparesSupported: spares are made at low priority (lowerPriority),
// which is Linux only.
const sparesSupported = true

// lowerPriority gives the calling goroutine a thread of its own, at the
// lowest priority (nice 19), for the rest of its life: the thread ends
// with it rather than serve other goroutines at that priority. Making a
// file costs CPU time (about 600 µs on this machine's ext4, most of it
// finding a free inode), and on a busy server the refiller must not take
// it from the requests: its creates slowed the namespace commits as
// much as spares sped up writes. At nice 19 it makes spares from idle
// time, and when there is none, writes create their files as before.
func lowerPriority() {
	runtime.LockOSThread()
	unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), 19)
}
