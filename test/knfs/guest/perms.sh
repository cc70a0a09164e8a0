#!/bin/sh
# perms.sh - permission checks of the kernel client against the nfsd
# front end with root_squash (runs in the busybox guest, cwd = mount).
#
# test/knfs/run.sh (scenario perms-nfsd) serves a fresh state folder whose
# POSIX backend holds, made by the harness as root: rootfile (0644, "root")
# and rootdir/ (0755). The export root is then 1777 (fresh, root_squash).
# $KNFS_FILES/asuser switches uid and groups. Users 1000 and 1001 act as
# on a local file system; the guest's root acts as nobody (65534).
T0=$(cut -d' ' -f1 /proc/uptime); PASS=0; FAIL=0; FAILED=
check() { # name cmd...
  name=$1; shift
  if out=$("$@" 2>&1); then PASS=$((PASS+1)); echo "ok   $name"
  else FAIL=$((FAIL+1)); FAILED="$FAILED $name"; echo "FAIL $name: $(echo "$out" | tail -3)"; fi
}
AS=$KNFS_FILES/asuser
u1000() { "$AS" 1000 1000 sh -c "$1"; }
u1001() { "$AS" 1001 1001 sh -c "$1"; }

check seed-visible sh -c '[ "$(cat rootfile)" = root ] && [ "$(stat -c %u:%a rootfile)" = 0:644 ] && [ -d rootdir ]'
check export-root-1777 sh -c '[ "$(stat -c %a .)" = 1777 ]'
check user-create-owns u1000 'echo mine > mine && [ "$(stat -c %u:%g mine)" = 1000:1000 ]'
check user-write-root-file-eacces u1000 "{ echo x >> rootfile; } 2>&1 | grep -q 'Permission denied' && [ \"\$(cat rootfile)\" = root ]"
check user-read-root-file u1000 '[ "$(cat rootfile)" = root ]'
check user-create-in-root-dir-eacces u1000 "touch rootdir/x 2>&1 | grep -q 'Permission denied' && [ ! -e rootdir/x ]"
check user-chmod-others-eperm u1001 "chmod 666 mine 2>&1 | grep -q 'Operation not permitted' && [ \"\$(stat -c %a mine)\" = 644 ]"
check user-chown-eperm u1000 "chown 1001 mine 2>&1 | grep -q 'Operation not permitted'"
check user-truncate-others-eacces u1001 "truncate -s 0 mine 2>&1 | grep -q 'Permission denied' && [ \"\$(cat mine)\" = mine ]"
private_read() { u1000 'echo s > secret && chmod 600 secret' && u1001 'cat secret 2>&1 | grep -q "Permission denied"'; }
check user-private-read-eacces private_read
check sticky-delete-others-fails u1001 "rm -f mine 2>&1 | grep -q 'Operation not permitted' && [ -e mine ]"
check sticky-owner-deletes u1000 'rm secret && [ ! -e secret ]'
shared_dir() { u1000 'mkdir shared && chmod 1777 shared' && u1001 'echo b > shared/b && [ "$(stat -c %u shared/b)" = 1001 ]'; }
check user-mkdir-1777-shared shared_dir
group_write() { u1000 'echo g > grp && chmod 664 grp' && "$AS" 1001 1001,1000 sh -c 'echo more >> grp' && [ "$(wc -l < grp)" = 2 ]; }
check supplementary-group-write group_write
check root-is-nobody sh -c 'echo r > byroot && [ "$(stat -c %u:%g byroot)" = 65534:65534 ]'
check root-write-root-file-eacces sh -c "{ echo x >> rootfile; } 2>&1 | grep -q 'Permission denied' && [ \"\$(cat rootfile)\" = root ]"
check root-chmod-eperm sh -c "chmod 600 rootfile 2>&1 | grep -q 'Operation not permitted'"
check root-delete-user-file-fails sh -c "rm -f mine 2>&1 | grep -q 'Operation not permitted' && [ -e mine ]"
cleanup() { u1000 'rm -f mine grp' && u1001 'rm -f shared/b' && u1000 'rmdir shared' && rm -f byroot; }
check cleanup cleanup
echo "PERMS: $PASS passed, $FAIL failed${FAILED:+ (failed:$FAILED)} in $(awk -v a=$T0 -v b=$(cut -d' ' -f1 /proc/uptime) 'BEGIN{print b-a}')s"
[ $FAIL = 0 ]
