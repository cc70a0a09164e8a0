#!/bin/sh
# smoke.sh - the basic POSIX file operations through the kernel NFS client:
# create, write, read (also after the client dropped its caches), append,
# rename (plain, over a file, of a folder), folders, links, modes, sizes,
# times, listings, statfs, and an unlinked file still read through an open
# descriptor. 24 checks, each in its own subshell, all run even when one
# fails.
#
# Runs in the busybox guest of test/knfs/vm.sh (cwd = the mount, as root)
# and needs nothing beyond busybox. Output: "ok   NAME" or "FAIL NAME: why"
# per check, then "SMOKE: P passed, F failed ..."; exit status 1 if any
# check failed.
START=$(cut -d' ' -f1 /proc/uptime)
PASS=0 FAIL=0 FAILED=

run() { # name: run the function c_NAME (dashes become underscores)
  fn=c_$(echo "$1" | tr - _)
  # Not in an if: there the subshell's set -e would be ignored.
  why=$( (set -e; "$fn") 2>&1)
  if [ $? = 0 ]; then
    PASS=$((PASS + 1))
    echo "ok   $1"
  else
    FAIL=$((FAIL + 1))
    FAILED="$FAILED $1"
    echo "FAIL $1: $(printf '%s\n' "$why" | tail -n 3)"
  fi
}
want() { # what got expected
  [ "$2" = "$3" ] || { echo "$1 is '$2', not '$3'"; return 1; }
}
drop_caches() { sync && echo 3 >/proc/sys/vm/drop_caches; }

# One folder per run, so a rerun on the same export does not collide.
TOP=smoke-$(date +%s)-$$

c_mkdir() { mkdir "$TOP"; }
c_create_write() { printf 'first line\n' >"$TOP/text"; }
c_write_1MiB() {
  dd if=/dev/urandom of="$TOP/random" bs=4096 count=256 2>/dev/null
  md5sum "$TOP/random" >"$TOP/random.sum"
  want size "$(stat -c %s "$TOP/random")" 1048576
}
c_read_back() { want content "$(cat "$TOP/text")" "first line"; }
c_read_back_after_drop_caches() {
  drop_caches
  md5sum -c "$TOP/random.sum" >/dev/null
  want content "$(cat "$TOP/text")" "first line"
}
c_append() {
  printf 'second line\n' >>"$TOP/text"
  want lines "$(wc -l <"$TOP/text")" 2
  want "last line" "$(tail -n 1 "$TOP/text")" "second line"
}
c_rename() {
  mv "$TOP/text" "$TOP/renamed"
  [ ! -e "$TOP/text" ] || { echo "old name still there"; return 1; }
  want lines "$(wc -l <"$TOP/renamed")" 2
}
c_rename_overwrite() {
  echo old >"$TOP/target"
  echo new >"$TOP/source"
  mv "$TOP/source" "$TOP/target"
  want target "$(cat "$TOP/target")" new
  [ ! -e "$TOP/source" ] || { echo "source still there"; return 1; }
  rm "$TOP/target"
}
c_mkdir_p() { mkdir -p "$TOP/a/b/c" && [ -d "$TOP/a/b/c" ]; }
c_rename_dir() {
  mv "$TOP/a" "$TOP/moved"
  [ -d "$TOP/moved/b/c" ] && [ ! -e "$TOP/a" ]
}
c_rmdir() {
  rmdir "$TOP/moved/b/c" "$TOP/moved/b" "$TOP/moved"
  [ ! -e "$TOP/moved" ]
}
c_rmdir_nonempty_fails() {
  mkdir "$TOP/full" && : >"$TOP/full/x"
  if rmdir "$TOP/full" 2>/dev/null; then echo "rmdir of a non-empty folder succeeded"; return 1; fi
  rm "$TOP/full/x" && rmdir "$TOP/full"
}
c_symlink() {
  ln -s renamed "$TOP/sym"
  want target "$(readlink "$TOP/sym")" renamed
  want "content through the link" "$(head -n 1 "$TOP/sym")" "first line"
}
c_hardlink() {
  ln "$TOP/renamed" "$TOP/hard"
  want links "$(stat -c %h "$TOP/renamed")" 2
  want "same inode" "$(stat -c %i "$TOP/hard")" "$(stat -c %i "$TOP/renamed")"
}
c_chmod() {
  chmod 0604 "$TOP/renamed"
  want mode "$(stat -c %a "$TOP/renamed")" 604
}
c_truncate_down() {
  truncate -s 5 "$TOP/renamed"
  want size "$(stat -c %s "$TOP/renamed")" 5
  want content "$(cat "$TOP/renamed")" first
}
c_truncate_up() {
  truncate -s 200000 "$TOP/renamed"
  want size "$(stat -c %s "$TOP/renamed")" 200000
  # The grown part reads as zeros.
  want "tail bytes" "$(tail -c 4 "$TOP/renamed" | od -An -tx1 | tr -d ' ')" 00000000
}
c_utimes() {
  touch -d '2003-04-05 06:07:08' "$TOP/renamed"
  want mtime "$(stat -c %Y "$TOP/renamed")" "$(date -d '2003-04-05 06:07:08' +%s)"
}
c_ls_l() {
  ls -la "$TOP" >/dev/null
  ls -l "$TOP" | grep -q ' renamed$'
}
c_readdir_count() {
  mkdir "$TOP/many"
  i=0
  while [ $i -lt 60 ]; do : >"$TOP/many/n$i"; i=$((i + 1)); done
  want entries "$(ls "$TOP/many" | wc -l)" 60
  rm "$TOP/many"/n* && rmdir "$TOP/many"
}
c_df() {
  line=$(df -k . | tail -n 1)
  echo "$line" | grep -q '[0-9]' || { echo "df printed: $line"; return 1; }
}
c_unlink_open_file() {
  echo kept >"$TOP/doomed"
  exec 7<"$TOP/doomed"
  rm "$TOP/doomed"
  [ ! -e "$TOP/doomed" ] || { echo "name still there"; return 1; }
  want "read after unlink" "$(cat <&7)" kept
  exec 7<&-
}
c_rm_all() {
  rm -f "$TOP/renamed" "$TOP/sym" "$TOP/hard" "$TOP/random" "$TOP/random.sum"
  # The client renames an unlinked file it still had open to .nfsXXXX;
  # it removes that itself once closed, but not always at once.
  rm -f "$TOP"/.nfs* 2>/dev/null || true
}
c_rmdir_top() { rmdir "$TOP" && [ ! -e "$TOP" ]; }

for c in mkdir create-write write-1MiB read-back read-back-after-drop-caches append \
  rename rename-overwrite mkdir-p rename-dir rmdir rmdir-nonempty-fails symlink \
  hardlink chmod truncate-down truncate-up utimes ls-l readdir-count df \
  unlink-open-file rm-all rmdir-top; do
  run "$c"
done

echo "SMOKE: $PASS passed, $FAIL failed${FAILED:+ (failed:$FAILED)} in $(awk -v a="$START" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { print b - a }')s"
[ "$FAIL" = 0 ]
