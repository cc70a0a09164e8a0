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
