package content

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// SparesSupported: spares are made at low priority (lowerPriority),
// which is Linux only.
const SparesSupported = true

// lowerPriority gives the calling goroutine a thread of its own, at the
// lowest priority (nice 19), until the function it returns is called.
// Making a file costs CPU time (most of it finding a free inode), and on
// a busy server the refiller must not take it from the requests: at
// normal priority its creates slow the namespace commits as much as
// spares speed up writes. At nice 19 it makes spares from idle time, and
// when there is none, writes create their files themselves.
//
// The returned function gives the thread its priority back and frees
// it. Where that is not allowed (a priority raised again needs
// CAP_SYS_NICE), the thread stays locked, and ends with the goroutine
// rather than serve others at nice 19. A thread ending sends the
// parent-death signal to children it started (Pdeathsig, as test
// servers use): hence the attempt to give it back.
func lowerPriority() (restore func()) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	old, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return func() {} // the thread ends with the goroutine
	}
	old = 20 - old // the raw syscall returns 20 - nice
	unix.Setpriority(unix.PRIO_PROCESS, tid, 19)
	return func() {
		if unix.Setpriority(unix.PRIO_PROCESS, tid, old) == nil {
			runtime.UnlockOSThread()
		}
	}
}
