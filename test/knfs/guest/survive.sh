#!/bin/sh
# survive.sh - kernel-client checks that filegate's NFS file handles survive
#   (1) a restart of `filegate serve` (SIGKILL, then started again on the
#       same port and --state directory), and
#   (2) renames of the directory above an open file and of the file itself.
#
# Runs inside the knfs guest (busybox only), cwd = the mount point. It needs
# the host share: test/knfs/run.sh starts it with
#   test/knfs/vm.sh -M -s SHAREDIR -o actimeo=0 PORT survive.sh
# and restarts the server when asked:
#   guest creates $KNFS_SHARE/restart-request and waits;
#   host kills the server, starts it again, then creates
#   $KNFS_SHARE/restarted (or $KNFS_SHARE/restart-failed).
#
# Output: "ok   NAME" or "FAIL NAME: why" per check, then
#   "SURVIVE: P passed, F failed ..."; exit status 1 if any check failed.
# Environment: SURVIVE_RESTART_WAIT seconds to wait for the host (default 90).

SHARE=${KNFS_SHARE:-}
WAIT=${SURVIVE_RESTART_WAIT:-90}
MNT=$PWD
t() { cut -d' ' -f1 /proc/uptime; }
T0=$(t); PASS=0; FAIL=0; FAILED=

check() { # name function [args...]: run in a subshell, record the verdict
  name=$1; shift
  if out=$("$@" 2>&1); then PASS=$((PASS+1)); echo "ok   $name"
  else FAIL=$((FAIL+1)); FAILED="$FAILED $name"; echo "FAIL $name: $(echo "$out" | tail -3)"; fi
}
summary() {
  echo "SURVIVE: $PASS passed, $FAIL failed${FAILED:+ (failed:$FAILED)} in $(awk -v a="$T0" -v b="$(t)" 'BEGIN{print b-a}')s"
  [ "$FAIL" = 0 ]
}
is() { # what got want
  [ "$2" = "$3" ] && return 0
  echo "$1: got '$2', want '$3'"; return 1
}
# Drop the client's clean page, dentry and inode caches so that the next
# reads go to the server with the handles the client already holds.
drop_caches() { sync; echo 3 > /proc/sys/vm/drop_caches; }

if [ -z "$SHARE" ] || [ ! -d "$SHARE" ]; then
  echo "FAIL setup: no host share (run under test/knfs/vm.sh -s DIR)"
  FAIL=1; FAILED=" setup"; summary; exit 1
fi

# busybox date has no %N; the pid keeps names unique enough per boot.
TOP=$MNT/survive.$(date +%s).$$
REN=$MNT/rename.$(date +%s).$$
setup() {
  mkdir "$TOP" "$TOP/dir" &&
  printf 'before restart\n' > "$TOP/dir/file" &&
  printf 'line1\n' > "$TOP/dir/log"
}
check setup setup || true
[ "$FAIL" = 0 ] || { summary; exit 1; }

# ---- 1. file handles survive a server restart --------------------------
exec 5<"$TOP/dir/file"   # read fd held across the restart
exec 6>>"$TOP/dir/log"   # append fd held across the restart
cd "$TOP/dir" || { echo "FAIL setup: cd $TOP/dir"; FAIL=1; FAILED=" setup"; summary; exit 1; }
drop_caches

restart_server() {
  rm -f "$SHARE/restarted" "$SHARE/restart-failed"
  : > "$SHARE/restart-request"
  i=0
  while [ ! -e "$SHARE/restarted" ] && [ ! -e "$SHARE/restart-failed" ]; do
    if [ "$i" -ge $((WAIT * 10)) ]; then
      echo "host did not answer restart-request within ${WAIT}s"; return 1
    fi
    sleep 0.1; i=$((i + 1))
  done
  if [ -e "$SHARE/restart-failed" ]; then
    echo "host could not restart the server: $(cat "$SHARE/restart-failed")"; return 1
  fi
}
check restart-handshake restart_server
# Without a restart the remaining checks would prove nothing.
[ "$FAIL" = 0 ] || { summary; exit 1; }
drop_caches

read_old_fd() { is "read through fd 5" "$(cat <&5)" "before restart"; }
check restart-read-old-fd read_old_fd
check restart-stat-cwd stat .
# Listing the old cwd is the point here (READDIR on the old handle).
# shellcheck disable=SC2012
ls_cwd() { is "ls in cwd" "$(ls | tr '\n' ' ')" "file log "; }
check restart-ls-cwd ls_cwd
read_path() { is "cat file" "$(cat file)" "before restart"; }
check restart-read-by-path read_path
# A write through the old fd; the subshell's close flushes it to the server.
write_old_fd() { printf 'line2\n' >&6 || { echo "write through fd 6 failed"; return 1; }; }
check restart-write-old-fd write_old_fd
exec 6>&-
drop_caches
write_seen() { is "cat log" "$(cat log)" "$(printf 'line1\nline2')"; }
check restart-write-visible write_seen
create_in_cwd() { printf 'new\n' > new && is "cat new" "$(cat new)" new; }
check restart-create-in-cwd create_in_cwd
lookup_from_root() { is "ls $TOP" "$(ls "$TOP")" dir; }
check restart-lookup-from-root lookup_from_root
exec 5<&-

# ---- 2. open files survive renames ------------------------------------
# In a folder of its own, so that it runs even if part 1 went stale.
rename_setup() { mkdir "$REN" && mkdir -p "$REN/d1/sub" && printf 'rename me\n' > "$REN/d1/sub/f"; }
check rename-setup rename_setup
cd "$REN" || { echo "FAIL rename-setup: cd $REN"; FAIL=$((FAIL+1)); FAILED="$FAILED rename-setup"; summary; exit 1; }
exec 7<d1/sub/f    # read after the directory rename
exec 8>>d1/sub/f   # write after both renames
exec 9<d1/sub/f    # read after both renames
exec 4<d1/sub/f    # read after a move to another directory

rename_dir() { mv d1 d2 && [ -d d2/sub ] && [ ! -e d1 ]; }
check rename-dir rename_dir
drop_caches
read_fd7() { is "read through fd opened before mv d1 d2" "$(cat <&7)" "rename me"; }
check rename-dir-read-old-fd read_fd7
read_new_path() { is "cat d2/sub/f" "$(cat d2/sub/f)" "rename me"; }
check rename-dir-read-new-path read_new_path

rename_file() { mv d2/sub/f d2/sub/g && [ -f d2/sub/g ] && [ ! -e d2/sub/f ]; }
check rename-file rename_file
write_fd8() { printf 'appended\n' >&8 || { echo "write through fd 8 failed"; return 1; }; }
check rename-write-old-fd write_fd8
exec 8>&-
drop_caches
want=$(printf 'rename me\nappended')
write_visible() { is "cat d2/sub/g" "$(cat d2/sub/g)" "$want"; }
check rename-write-visible-new-path write_visible
read_fd9() { is "read through fd opened before both renames" "$(cat <&9)" "$want"; }
check rename-file-read-old-fd read_fd9

move_dir() { mv d2/sub/g d2/moved && [ -f d2/moved ] && [ ! -e d2/sub/g ]; }
check rename-across-dirs move_dir
drop_caches
read_fd4() { is "read through fd opened before the move" "$(cat <&4)" "$want"; }
check rename-across-dirs-read-old-fd read_fd4
exec 4<&- 7<&- 9<&-

cd "$MNT" || exit 1
cleanup() { rm -rf "$TOP" "$REN" && [ ! -e "$TOP" ] && [ ! -e "$REN" ]; }
check cleanup cleanup
summary
