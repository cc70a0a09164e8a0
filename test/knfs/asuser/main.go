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
