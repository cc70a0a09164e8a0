#!/bin/bash
# work.sh - the workstation workloads on the kernel client: what people at
# desks do on a NAS, checked for content and metadata, across a restart of
# the server, as a user (uid 1000 "alice") under the default root_squash.
#
# Runs inside the Debian knfs guest (test/knfs/vm.sh without -M, with
# KNFS_PACKAGES=git,xz-utils,sqlite3,vim-tiny), cwd = the mount, as root;
# root only sets up the user, drops the client's caches and talks to the
# host through the share (-s). test/knfs/run.sh (scenarios work-nfsd,
# work-s3) answers "restart-request" as for survive.sh, and after the VM
# flushes the server and compares its backend with work-listing.txt.
#
# Checks, in order:
#   tar-*     a tree of small and MiB files, symlinks, hard links, modes
#             (0444, 0600, 2775 and 0555 folders), nanosecond mtimes, odd
#             names: tar into the mount, extract back out, extract inside
#             the mount, copy out again; every listing equal to the source's
#   git-*     init, a few hundred files, commits, branch, checkout, merge,
#             gc, fsck; clones into the mount (hard links) and out of it
#             (file://), a push back; branches, trees and work trees equal
#   vim-*     vim's own save (swap file, backup by rename, fsync) and its
#             in-place save of a hard-linked file
#   office-*  lock file by O_EXCL (a second O_EXCL fails), temp file, fsync,
#             rename over the original, lock removed; a reader of the old
#             inode keeps its content (silly rename), nothing left over; a
#             Word-style rename dance
#   sqlite-*  rollback-journal and WAL databases, many transactions from
#             concurrent processes (locks are local: nolock = local_lock=all),
#             integrity_check
#   parallel-* 8 processes writing files at once, sync, checksums; 4
#             appending lines to one log
#   hardlink-* a file's first name removed, the others renamed and written
#   restart-* the whole tree listed (type, mode, owner, size, mtime, links,
#             sha256) into $KNFS_SHARE/work-listing.txt, the server SIGKILLed
#             and restarted, caches dropped: the listing, git fsck and
#             sqlite integrity_check again, identical
#
# The tree stays in the mount (work/) for the host's backend comparison.
# Output: "ok   NAME" or "FAIL NAME: why" per check, "time NAME SECONDS" after
# each, then "WORK: P passed, F failed ..."; exit status 1 if any failed.
# Environment: WORK_RESTART_WAIT seconds to wait for the host (default 120).
# ls is what people type: the checks use it on purpose.
# shellcheck disable=SC2012
set -u -o pipefail
umask 022
export LC_ALL=C.UTF-8 TZ=UTC

SHARE=${KNFS_SHARE:-}
MNT=$PWD
W=$MNT/work
L=/tmp/work # the guest's local (tmpfs) side
WAIT=${WORK_RESTART_WAIT:-120}
now() { cut -d' ' -f1 /proc/uptime; }
T0=$(now)
PASS=0 FAIL=0 FAILED=

check() { # name function [args...]: run with -e in a subshell, record the verdict
  local name=$1 t out rc
  shift
  t=$(now)
  out=$(set -e; "$@" 2>&1)
  rc=$?
  if [ "$rc" = 0 ]; then
    PASS=$((PASS + 1)); echo "ok   $name"
  else
    FAIL=$((FAIL + 1)); FAILED="$FAILED $name"
    echo "FAIL $name: $(echo "$out" | tail -n 6 | tr '\n' '|')"
  fi
  echo "time $name $(awk -v a="$t" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}')"
  return "$rc"
}
summary() {
  echo "WORK: $PASS passed, $FAIL failed${FAILED:+ (failed:$FAILED)} in $(awk -v a="$T0" -v b="$(now)" 'BEGIN{print b-a}')s"
  [ "$FAIL" = 0 ]
}
die() { echo "$*"; exit 1; }
is() { [ "$2" = "$3" ] || die "$1: got '$2', want '$3'"; }
# U runs a command as alice (uid/gid 1000) with a plain environment.
U() {
  setpriv --reuid=1000 --regid=1000 --init-groups -- env -i HOME=/home/alice USER=alice LOGNAME=alice \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C.UTF-8 TZ=UTC "$@"
}
US() { U bash -euo pipefail -c "$1"; } # a shell snippet as alice
# drop_caches: the next reads go to the server, not the client's page cache.
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }
# same LISTING1 LISTING2 what: equal listings, or the first differences.
same() {
  cmp -s "$1" "$2" && return 0
  echo "$3 differ ($(wc -l <"$1") vs $(wc -l <"$2") entries; both in the share's debug/):"
  mkdir -p "$SHARE/debug" && cp "$1" "$2" "$SHARE/debug/"
  diff "$1" "$2" | head -n 8
  return 1
}

# ---- setup ---------------------------------------------------------------
mkdir -p $L/bin
# listing DIR [PREFIX]: one tab-separated line per entry below DIR, sorted:
#   path type mode uid gid size mtime nlink group data
# size and nlink are "-" for folders (server-specific); group is the first
# name (in this order) of a hard-linked file's inode, else "-"; data is the
# sha256 of a file, the target of a symlink, "-" for a folder. run.sh's
# backend check reads the same format.
cat >$L/bin/listing <<'EOF'
#!/bin/bash
set -euo pipefail
dir=$1 prefix=${2:-}
cd "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
find . -mindepth 1 -printf '%P\t%y\t%#m\t%U\t%G\t%s\t%T@\t%n\t%i\t%l\n' | LC_ALL=C sort >"$tmp/meta"
find . -mindepth 1 -type f -print0 | xargs -0r sha256sum >"$tmp/sums"
awk -F '\t' -v OFS='\t' -v prefix="$prefix" '
  FILENAME == ARGV[1] { h = substr($0, 1, 64); p = substr($0, 67); sub(/^\.\//, "", p); sum[p] = h; next }
  {
    path = $1; type = $2; mode = $3; size = $6; nlink = $8; group = "-"; data = "-"
    if (type == "f") {
      data = sum[path]
      if (nlink > 1) { if (!($9 in first)) first[$9] = path; group = first[$9] }
    } else if (type == "l") {
      data = $10
    } else if (type == "d") {
      size = "-"; nlink = "-"
    }
    print (prefix == "" ? path : prefix "/" path), type, mode, $4, $5, size, $7, nlink, group, data
  }' "$tmp/sums" "$tmp/meta"
EOF
chmod 755 $L/bin/listing
LISTING=$L/bin/listing

setup() {
  grep -q '^alice:' /etc/passwd || echo 'alice:x:1000:1000:Alice:/home/alice:/bin/bash' >>/etc/passwd
  grep -q '^alice:' /etc/group || echo 'alice:x:1000:' >>/etc/group
  mkdir -p /home/alice $L/u
  chown 1000:1000 /home/alice $L $L/u
  printf '[user]\n\tname = Alice\n\temail = alice@example.com\n[init]\n\tdefaultBranch = main\n' >/home/alice/.gitconfig
  chown 1000:1000 /home/alice/.gitconfig
  [ -n "$SHARE" ] && [ -d "$SHARE" ] || die "no host share (run under test/knfs/vm.sh -s DIR)"
  rm -f "$SHARE/work-listing.txt"
  [ ! -e "$W" ] || die "$W exists already: the scenario wants a fresh export"
  U mkdir "$W"
  is "owner of $W" "$(stat -c %u:%g "$W")" 1000:1000
  for t in git sqlite3 vi xz tar perl strace setpriv; do command -v $t >/dev/null || die "$t missing in the guest"; done
}
check setup setup # (not in a || list: that would turn off its set -e)
[ "$FAIL" = 0 ] || { summary; exit 1; }

# ---- tar -----------------------------------------------------------------
# make_tree DIR: the source tree, built as alice on the guest's tmpfs.
make_tree() {
  US "
mkdir -p '$1' && cd '$1'
# 300 small files in 15 folders, random sizes up to 6 KiB
perl -e '
  srand(42);
  for my \$i (0..14) {
    mkdir \"dir\$i\"; mkdir \"dir\$i/sub\";
    for my \$j (0..19) {
      my \$n = int(rand(6144)); my \$s = join(\"\", map { chr(32 + int(rand(95))) } 1..\$n);
      open(my \$f, \">\", \"dir\$i/\" . (\$j % 4 ? \"\" : \"sub/\") . \"f\$j.txt\") or die \$!; print \$f \$s; close(\$f) or die \$!;
    }
  }'
mkdir big
head -c 1048576 /dev/urandom >big/b1.bin
head -c 786432 /dev/urandom >big/b2.bin
head -c 1500001 /dev/urandom >big/b3.bin
dd if=/dev/zero of=big/zeros.bin bs=1k count=512 status=none
mkdir names emptydir
echo cv >'names/résumé final.txt'; echo sp >'names/with space'; echo h >names/.hidden
echo U >names/UPPER.TXT; echo l >names/upper.txt; : >names/empty
mkdir links
ln -s ../dir0/f1.txt links/rel; ln -s /etc/hostname links/abs; ln -s nowhere/x links/dangling
ln -s ../dir1 links/dirlink
mkdir hard; echo 'linked twice' >hard/a; ln hard/a hard/b; ln hard/a dir3/c-link; ln big/b2.bin hard/big-link
mkdir modes modes/setgid modes/rodir modes/private
echo ro >modes/ro; chmod 0444 modes/ro
echo p >modes/private/secret; chmod 0600 modes/private/secret
printf '#!/bin/sh\necho hi\n' >modes/exec; chmod 0755 modes/exec
echo g >modes/grp; chmod 0640 modes/grp
echo r >modes/owner-read; chmod 0400 modes/owner-read
echo s >modes/setgid/in; chmod 2775 modes/setgid
echo in-ro >modes/rodir/in; chmod 0555 modes/rodir
chmod 0700 modes/private
# mtimes: one for all, then some old, future and odd nanosecond ones
find . -mindepth 1 -not -type d -exec touch -h -d @1600000000.5 {} +
touch -d @489000000 dir0/f1.txt
touch -d @2208988800.123456789 dir1/f2.txt
touch -d @1700000000.987654321 big/b1.bin
touch -h -d @1500000000.25 links/rel
find . -mindepth 1 -depth -type d -exec touch -d @1650000000.75 {} +
"
}

tar_create() {
  make_tree $L/src
  $LISTING $L/src >$L/src.list
  [ "$(wc -l <$L/src.list)" -gt 350 ] || die "source tree too small: $(wc -l <$L/src.list) entries"
  U mkdir "$W/tar"
  U tar --format=posix -cpf "$W/tar/tree.tar" -C $L/src .
  drop_caches
  U tar -tf "$W/tar/tree.tar" >/dev/null
}
check tar-create tar_create

tar_extract_out() {
  U mkdir $L/x1
  U tar --warning=no-timestamp -xpf "$W/tar/tree.tar" -C $L/x1
  $LISTING $L/x1 >$L/x1.list
  same $L/src.list $L/x1.list "source and the copy extracted from the mount's tar"
}
check tar-extract-out tar_extract_out

tar_extract_in() {
  U mkdir "$W/tar/tree"
  U tar --warning=no-timestamp -xpf "$W/tar/tree.tar" -C "$W/tar/tree"
  drop_caches
  U $LISTING "$W/tar/tree" >$L/in.list
  same $L/src.list $L/in.list "source and the tree extracted in the mount"
}
check tar-extract-in tar_extract_in

tar_copy_out() {
  U mkdir $L/x2
  US "tar --format=posix -cpf - -C '$W/tar/tree' . | tar --warning=no-timestamp -xpf - -C $L/x2"
  $LISTING $L/x2 >$L/x2.list
  same $L/src.list $L/x2.list "source and the tree tarred back out of the mount"
}
check tar-copy-out tar_copy_out

tar_xz() {
  U tar -cJf "$W/tar/small.tar.xz" -C $L/src dir0 dir1 names links hard
  drop_caches
  U xz -t "$W/tar/small.tar.xz"
  U mkdir $L/x3
  U tar --warning=no-timestamp -xpf "$W/tar/small.tar.xz" -C $L/x3
  diff -r --no-dereference $L/src/dir0 $L/x3/dir0
  diff -r --no-dereference $L/src/names $L/x3/names
}
check tar-xz tar_xz

# ---- git -----------------------------------------------------------------
git_work() {
  U mkdir "$W/git"
  US "
cd '$W/git' && git init -q repo && cd repo
perl -e '
  srand(7);
  for my \$d (0..9) {
    mkdir \"src\$d\";
    for my \$f (0..19) {
      open(my \$o, \">\", \"src\$d/m\$f.c\") or die \$!;
      print \$o \"/* module \$d.\$f */\n\";
      print \$o \"int f\${d}_\$f(int x) { return x * \", int(rand(1000)), \"; }\n\" for 1..(5 + int(rand(40)));
      close(\$o) or die \$!;
    }
  }'
printf 'build/\n*.o\n' >.gitignore
echo '# project' >README.md
git add -A && git commit -q -m 'initial: 200 files'
for i in 1 2 3; do
  for f in src\$i/m*.c; do echo \"// change \$i\" >>\"\$f\"; done
  git commit -q -am \"change \$i\"
done
git checkout -q -b feature
mkdir feat && for i in \$(seq 1 30); do echo \"feature \$i\" >feat/f\$i.txt; done
git add feat && git commit -q -m 'feature files'
git mv src9 src9-renamed && git commit -q -m 'rename a folder'
git checkout -q main
echo 'main line' >>README.md && git commit -q -am 'main: readme'
git merge -q --no-ff -m 'merge feature' feature
[ -d feat ] && [ -d src9-renamed ] && [ ! -e src9 ]
n=\$(git rev-list --count HEAD) && [ \$n = 8 ] || { echo \"\$n commits, want 8\"; exit 1; }
git status --porcelain >../status.out
[ ! -s ../status.out ] || { echo 'git status not clean:'; head -n 5 ../status.out; exit 1; }
"
}
check git-commit-branch-merge git_work

git_gc() {
  US "
cd '$W/git/repo'
loose=\$(find .git/objects -path '*/[0-9a-f][0-9a-f]/*' -type f | wc -l)
[ \$loose -gt 200 ] || { echo \"only \$loose loose objects\"; exit 1; }
git gc -q --prune=now
left=\$(find .git/objects -path '*/[0-9a-f][0-9a-f]/*' -type f | wc -l)
[ \$left = 0 ] || { echo \"\$left loose objects left after gc\"; exit 1; }
ls .git/objects/pack/*.pack >/dev/null
"
  drop_caches
  US "cd '$W/git/repo' && git fsck --full --strict --no-progress && git status --porcelain >../status.out && [ ! -s ../status.out ]"
}
check git-gc-fsck git_gc

# same_repo A B: same branches, same index, same files in the work tree.
same_repo() {
  US "
for b in main feature; do
  a=\$(git -C '$1' rev-parse -q --verify \$b || git -C '$1' rev-parse --verify origin/\$b)
  c=\$(git -C '$2' rev-parse -q --verify \$b || git -C '$2' rev-parse --verify origin/\$b)
  [ \"\$a\" = \"\$c\" ] || { echo \"branch \$b: \$a vs \$c\"; exit 1; }
done
[ \"\$(git -C '$1' ls-files -s | sha256sum)\" = \"\$(git -C '$2' ls-files -s | sha256sum)\" ] || { echo 'index differs'; exit 1; }
diff -r --no-dereference -x .git '$1' '$2'
git -C '$2' fsck --full --no-progress
git -C '$2' status --porcelain >$L/u/st && [ ! -s $L/u/st ]
"
}

git_clone_in() {
  U git clone -q "$W/git/repo" "$W/git/clone-in"
  # a local clone hard-links the object files
  local links
  links=$(find "$W/git/clone-in/.git/objects" -type f -links +1 | wc -l)
  [ "$links" -gt 0 ] || die "no hard-linked objects in the local clone"
  drop_caches
  same_repo "$W/git/repo" "$W/git/clone-in"
}
check git-clone-in-mount git_clone_in

git_clone_out() {
  U git clone -q "file://$W/git/repo" $L/clone-out
  same_repo "$W/git/repo" $L/clone-out
  US "
cd $L/clone-out
echo 'from outside' >outside.txt && git add outside.txt && git commit -q -m 'outside'
git push -q origin HEAD:refs/heads/from-out
"
  drop_caches
  US "
cd '$W/git/repo'
[ \"\$(git rev-parse from-out)\" = \"\$(git -C $L/clone-out rev-parse HEAD)\" ]
git fsck --full --no-progress
git checkout -q from-out && [ \"\$(cat outside.txt)\" = 'from outside' ] && git checkout -q main && [ ! -e outside.txt ]
"
}
check git-clone-out-push git_clone_out

# ---- editors -------------------------------------------------------------
vim_save() {
  U mkdir "$W/edit"
  US "cd '$W/edit' && printf 'line one\nline two\n' >notes.txt && chmod 0640 notes.txt"
  local ino0 ino1
  ino0=$(stat -c %i "$W/edit/notes.txt")
  # backupcopy=no: vim renames the original to notes.txt~, writes a new
  # notes.txt, fsyncs it and removes the backup; its swap file
  # .notes.txt.swp lives beside the file while it edits.
  US "cd '$W/edit' && strace -f -o $L/u/vim.trace -e trace=rename,renameat,renameat2,openat,fsync,unlink,unlinkat \
    vi -u NONE -i NONE -N -es -c 'set backupcopy=no writebackup swapfile' -c '%s/two/2/' -c 'wq' notes.txt"
  grep -q '\.notes\.txt\.swp.*O_CREAT' $L/u/vim.trace || die "vim made no swap file beside the file: $(grep swp $L/u/vim.trace | head -n 3)"
  grep -qE 'rename.*"notes.txt", .*"notes.txt~"' $L/u/vim.trace || die "vim did not rename the original to its backup"
  grep -q '^[0-9]* *fsync' $L/u/vim.trace || die "vim did not fsync"
  drop_caches
  is content "$(U cat "$W/edit/notes.txt")" "$(printf 'line one\nline 2')"
  ino1=$(stat -c %i "$W/edit/notes.txt")
  [ "$ino0" != "$ino1" ] || die "inode unchanged ($ino0) after a save by rename"
  is mode "$(stat -c %a "$W/edit/notes.txt")" 640
  is "files left" "$(ls -A "$W/edit" | tr '\n' ' ')" "notes.txt "
}
check vim-save-rename vim_save

vim_hardlink() {
  US "cd '$W/edit' && printf 'shared v1\n' >linked.txt && ln linked.txt linked-too.txt"
  local ino0
  ino0=$(stat -c %i "$W/edit/linked.txt")
  # backupcopy=auto: a file with two links is written in place.
  US "cd '$W/edit' && vi -u NONE -i NONE -N -es -c 'set backupcopy=auto' -c '%s/v1/v2/' -c 'wq' linked.txt"
  drop_caches
  is "inode" "$(stat -c %i "$W/edit/linked.txt")" "$ino0"
  is "links" "$(stat -c %h "$W/edit/linked.txt")" 2
  is "content by the other name" "$(U cat "$W/edit/linked-too.txt")" "shared v2"
  is "files left" "$(ls -A "$W/edit" | tr '\n' ' ')" "linked-too.txt linked.txt notes.txt "
}
check vim-save-in-place-hardlink vim_hardlink

# excl_create PATH: create PATH with O_EXCL (exit 17 if it exists).
cat >$L/bin/excl <<'EOF'
#!/usr/bin/perl
use Fcntl;
sysopen(my $f, $ARGV[0], O_WRONLY | O_CREAT | O_EXCL, 0644) or exit($!{EEXIST} ? 17 : 1);
print $f "alice,knfs-guest,$$\n" or exit 1;
close($f) or exit 1;
EOF
# save PATH CONTENT: write, fsync, chmod like the original, rename over it
# and fsync the folder, as office suites save.
cat >$L/bin/save <<'EOF'
#!/usr/bin/perl
use strict; use Fcntl; use IO::Handle; use File::Basename;
my ($path, $content) = @ARGV;
my $dir = dirname($path);
my $tmp = "$dir/lu$$" . "x.tmp";
my $mode = (stat($path))[2] & 07777;
sysopen(my $f, $tmp, O_WRONLY | O_CREAT | O_EXCL, 0600) or die "create $tmp: $!";
print $f $content or die "write: $!";
$f->sync or die "fsync: $!";
close($f) or die "close: $!";
chmod($mode, $tmp) or die "chmod: $!";
rename($tmp, $path) or die "rename: $!";
opendir(my $d, $dir) or die "opendir: $!";
sysopen(my $df, $dir, O_RDONLY | O_DIRECTORY) or die "open dir: $!";
$df->sync or die "fsync dir: $!";
EOF
chmod 755 $L/bin/excl $L/bin/save

office_save() {
  local doc=$W/office/report.odt lock="$W/office/.~lock.report.odt#" ino0 ino1 i
  U mkdir "$W/office"
  US "printf 'version 0\n' >'$doc' && chmod 0664 '$doc'"
  exec 7<"$doc" # another reader (root, squashed: "other" may read) holds the original open
  for i in $(seq 1 6); do
    ino0=$(stat -c %i "$doc")
    U $L/bin/excl "$lock" || die "save $i: lock create failed"
    local rc=0
    U $L/bin/excl "$lock" || rc=$?
    is "save $i: second O_EXCL create of the lock (17 = EEXIST)" "$rc" 17
    U $L/bin/save "$doc" "$(printf 'version %d\n%0*d\n' "$i" $((i * 512)) 0)"
    U rm "$lock"
    ino1=$(stat -c %i "$doc")
    [ "$ino0" != "$ino1" ] || die "save $i: inode unchanged"
    is "save $i: content" "$(U head -n 1 "$doc")" "version $i"
  done
  is "old inode through the open fd" "$(cat <&7)" "version 0"
  exec 7<&-
  drop_caches
  is "mode" "$(stat -c %a "$doc")" 664
  is "size" "$(stat -c %s "$doc")" $((10 + 6 * 512))
  # the client silly-renamed the open original (.nfsXXXX) and removes it
  # once closed: wait for that
  for i in $(seq 1 150); do
    [ "$(ls -A "$W/office" | tr '\n' ' ')" = "report.odt " ] && return 0
    sleep 0.2
  done
  die "files left: $(ls -A "$W/office" | tr '\n' ' ')"
}
check office-lock-temp-rename office_save

word_dance() {
  local d=$W/office/word
  U mkdir "$d"
  US "cd '$d' && printf 'draft 1\n' >Budget.docx"
  local ino0
  ino0=$(stat -c %i "$d/Budget.docx")
  # Word: owner file, new version in ~WRL0001.tmp, original renamed to
  # ~WRL0002.tmp, new one renamed to the name, old one deleted.
  US "cd '$d'
$L/bin/excl '~\$Budget.docx'
printf 'draft 2\n' >~WRL0001.tmp
mv Budget.docx ~WRL0002.tmp
mv ~WRL0001.tmp Budget.docx
rm ~WRL0002.tmp '~\$Budget.docx'"
  drop_caches
  is content "$(U cat "$d/Budget.docx")" "draft 2"
  [ "$(stat -c %i "$d/Budget.docx")" != "$ino0" ] || die "inode unchanged"
  is "files left" "$(ls -A "$d" | tr '\n' ' ')" "Budget.docx "
}
check office-word-rename-dance word_dance

# ---- sqlite --------------------------------------------------------------
# sql_tx WHO N MODE: N transactions, each an insert and a counter update.
sql_tx() {
  local who=$1 n=$2 i
  for i in $(seq 1 "$n"); do
    echo "BEGIN IMMEDIATE; INSERT INTO t(who, n, payload) VALUES('$who', $i, randomblob(300)); UPDATE c SET v = v + 1 WHERE k = 'total'; COMMIT;"
  done
}
sqlite_db() { # name journal_mode writers tx_each
  local db=$W/db/$1.sqlite mode=$2 writers=$3 each=$4 w pids=()
  U sqlite3 -cmd ".timeout 20000" "$db" "PRAGMA journal_mode=$mode; CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER, payload BLOB); CREATE TABLE c(k TEXT PRIMARY KEY, v INTEGER); INSERT INTO c VALUES('total', 0);" >/dev/null
  for w in $(seq 1 "$writers"); do
    sql_tx "w$w" "$each" >$L/u/tx.$1.$w
    U sqlite3 -bail -cmd ".timeout 20000" "$db" <$L/u/tx.$1.$w >$L/u/out.$1.$w 2>&1 &
    pids+=($!)
  done
  for w in "${pids[@]}"; do wait "$w" || die "$1: a writer failed: $(cat $L/u/out."$1".* | head -n 3)"; done
  U sqlite3 -cmd ".timeout 20000" "$db" 'VACUUM;'
  drop_caches
  local total=$((writers * each))
  is "$1: rows" "$(U sqlite3 -cmd ".timeout 20000" "$db" 'SELECT count(*) FROM t;')" $total
  is "$1: counter" "$(U sqlite3 -cmd ".timeout 20000" "$db" "SELECT v FROM c WHERE k = 'total';")" $total
  is "$1: per writer" "$(U sqlite3 -cmd ".timeout 20000" "$db" 'SELECT count(DISTINCT who), min(c), max(c) FROM (SELECT who, count(*) c FROM t GROUP BY who);')" "$writers|$each|$each"
  is "$1: integrity_check" "$(U sqlite3 -cmd ".timeout 20000" "$db" 'PRAGMA integrity_check;')" ok
  is "$1: journal_mode" "$(U sqlite3 -cmd ".timeout 20000" "$db" 'PRAGMA journal_mode;')" "$(echo "$mode" | tr A-Z a-z)"
}
sqlite_delete() { U mkdir "$W/db"; sqlite_db rollback DELETE 4 30; }
check sqlite-rollback-journal sqlite_delete
sqlite_wal() {
  sqlite_db wal WAL 2 30
  # a checkpoint folds the WAL into the database; leave no -wal, -shm behind
  U sqlite3 -cmd ".timeout 20000" "$W/db/wal.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode=DELETE;' >/dev/null
  is "files left" "$(ls -A "$W/db" | tr '\n' ' ')" "rollback.sqlite wal.sqlite "
}
check sqlite-wal sqlite_wal

# ---- many writers at once -------------------------------------------------
parallel() {
  local w pids=()
  U mkdir "$W/par" $L/par
  # 8 writers: 7 with 8 files of 1 KiB to 129 KiB, made locally first; one
  # writer appends a log line by line instead.
  US "cd $L/par && for w in 1 2 3 4 5 6 7; do mkdir w\$w; for f in \$(seq 1 8); do
        head -c \$(( (w * 7919 + f * 104729) % 131072 + 1024 )) /dev/urandom >w\$w/file\$f; done; done
      cd $L/par && find . -type f | LC_ALL=C sort | xargs sha256sum >$L/par.sums"
  for w in 1 2 3 4 5 6 7; do
    US "mkdir '$W/par/w$w' && for f in \$(seq 1 8); do dd if=$L/par/w$w/file\$f of='$W/par/w$w/file'\$f bs=\$(( 4096 * $w )) status=none; done" &
    pids+=($!)
  done
  US "mkdir '$W/par/log' && for i in \$(seq 1 400); do echo \"entry \$i of the log\" >>'$W/par/log/app.log'; done" &
  pids+=($!)
  for w in "${pids[@]}"; do wait "$w" || die "a writer failed"; done
  sync
  drop_caches
  US "cd '$W/par' && sha256sum --quiet -c $L/par.sums"
  is "log lines" "$(U cat "$W/par/log/app.log" | wc -l)" 400
  is "log last line" "$(U tail -n 1 "$W/par/log/app.log")" "entry 400 of the log"
}
check parallel-writers parallel

# several processes appending lines to one log (O_APPEND)
appenders() {
  local w pids=()
  for w in 1 2 3 4; do
    US "for i in \$(seq 1 100); do printf 'writer %d line %03d\n' $w \$i >>'$W/par/shared.log'; done" &
    pids+=($!)
  done
  for w in "${pids[@]}"; do wait "$w" || die "an appender failed"; done
  drop_caches
  US "cat '$W/par/shared.log'" >$L/shared.log
  is "lines" "$(wc -l <$L/shared.log)" 400
  is "distinct lines" "$(sort -u $L/shared.log | wc -l)" 400
  is "malformed lines" "$(grep -cvE '^writer [1-4] line [0-9]{3}$' $L/shared.log)" 0
  for w in 1 2 3 4; do # each writer's lines in its own order
    grep "^writer $w " $L/shared.log | sort -c || die "writer $w's lines out of order"
  done
}
check parallel-appenders appenders

# ---- hard links whose first name goes --------------------------------------
# The backend holds a hard-linked file once, at its first name; removing
# that name moves it to another (run.sh's backend check looks).
hardlinks() {
  U mkdir "$W/links" "$W/links/sub"
  US "cd '$W/links' && printf 'v1\n' >first && ln first second && ln first sub/third && rm first &&
      printf 'v2\n' >>second && mv sub/third sub/moved"
  drop_caches
  is content "$(U cat "$W/links/sub/moved")" "$(printf 'v1\nv2')"
  is links "$(stat -c %h "$W/links/second")" 2
  US "cd '$W/links' && ln second sub/fourth && rm second && printf 'v3\n' >>sub/fourth"
  drop_caches
  is content "$(U cat "$W/links/sub/moved")" "$(printf 'v1\nv2\nv3')"
  is links "$(stat -c %h "$W/links/sub/moved")" 2
  is "same inode" "$(stat -c %i "$W/links/sub/moved")" "$(stat -c %i "$W/links/sub/fourth")"
  is "files left" "$(cd "$W/links" && find . -mindepth 1 | sort | tr '\n' ' ')" "./sub ./sub/fourth ./sub/moved "
}
check hardlink-first-name-removed hardlinks

# ---- restart ----------------------------------------------------------------
list_all() {
  U $LISTING "$W" work >$L/before.list
  [ "$(wc -l <$L/before.list)" -gt 1000 ] || die "only $(wc -l <$L/before.list) entries in the listing"
  cp $L/before.list "$SHARE/work-listing.txt.tmp" && mv "$SHARE/work-listing.txt.tmp" "$SHARE/work-listing.txt"
}
check restart-list list_all

restart_server() {
  rm -f "$SHARE/restarted" "$SHARE/restart-failed"
  : >"$SHARE/restart-request"
  local i=0
  while [ ! -e "$SHARE/restarted" ] && [ ! -e "$SHARE/restart-failed" ]; do
    [ "$i" -lt $((WAIT * 10)) ] || die "host did not answer restart-request within ${WAIT}s"
    sleep 0.1
    i=$((i + 1))
  done
  [ ! -e "$SHARE/restart-failed" ] || die "host could not restart the server: $(cat "$SHARE/restart-failed")"
  drop_caches
}
check restart-handshake restart_server

relist() {
  U $LISTING "$W" work >$L/after.list
  same $L/before.list $L/after.list "listings before and after the restart"
}
check restart-listing-identical relist
check restart-git-fsck US "cd '$W/git/repo' && git fsck --full --strict --no-progress && git status --porcelain >$L/u/st && [ ! -s $L/u/st ]"
restart_sqlite() {
  local db
  for db in rollback wal; do
    is "$db: integrity_check" "$(U sqlite3 -cmd ".timeout 20000" "$W/db/$db.sqlite" 'PRAGMA integrity_check;')" ok
  done
  # a copy still takes writes (the listing for the host stays as it is)
  US "cd '$W/db' && cp rollback.sqlite probe.sqlite && sqlite3 -bail probe.sqlite \"INSERT INTO t(who, n) VALUES('after', 1);\""
  is "rows" "$(U sqlite3 "$W/db/probe.sqlite" "SELECT count(*) FROM t; PRAGMA integrity_check;" | tr '\n' ' ')" "121 ok "
  U rm "$W/db/probe.sqlite"
}
check restart-sqlite restart_sqlite

summary
