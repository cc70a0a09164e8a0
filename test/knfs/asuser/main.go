// Command asuser runs a command as another user, for the kernel-client
// guest scripts (test/knfs/guest/perms.sh): the busybox guest has no
// su or setpriv that switches ids without a passwd entry. It is built
// static (CGO_ENABLED=0) by test/knfs/run.sh and copied into the guest.
//
//	asuser UID GID[,GROUP...] COMMAND [ARG...]
//
// It sets the supplementary groups (the GROUPs, none if there are none),
// the gid and the uid, then executes COMMAND (looked up in PATH).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: asuser UID GID[,GROUP...] COMMAND [ARG...]")
		os.Exit(2)
	}
	uid, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fail(err)
	}
	var ids []int
	for _, s := range strings.Split(os.Args[2], ",") {
		id, err := strconv.Atoi(s)
		if err != nil {
			fail(err)
		}
		ids = append(ids, id)
	}
	if err := syscall.Setgroups(ids[1:]); err != nil {
		fail(err)
	}
	if err := syscall.Setgid(ids[0]); err != nil {
		fail(err)
	}
	if err := syscall.Setuid(uid); err != nil {
		fail(err)
	}
	path, err := exec.LookPath(os.Args[3])
	if err != nil {
		fail(err)
	}
	fail(syscall.Exec(path, os.Args[3:], os.Environ()))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "asuser:", err)
	os.Exit(127)
}
