#!/bin/bash
# test/knfs/vm.sh - run a shell script on the Linux kernel NFS client
# against an NFSv3 server on this host, in a qemu VM with Debian's kernel.
#
#   test/knfs/vm.sh [options] PORT SCRIPT     boot, mount, run SCRIPT
#   test/knfs/vm.sh -b [-M]                   build the cached artefacts only
#
# The server listens on 127.0.0.1:PORT with MOUNT and NFS on that one port;
# the guest reaches it as 10.0.2.2:PORT through qemu's user network, mounts
# it on /mnt and runs SCRIPT there (cwd /mnt) as root. The guest's init is
# test/knfs/vm/init.sh.
#
# Guests:
#   -M   busybox only: the kernel, its modules and busybox in an initramfs.
#        Boots in seconds; enough for sh-and-coreutils scripts.
#   (default) Debian: a bookworm file system built with debootstrap
#        (minbase) holding bash, perl, coreutils and KNFS_PACKAGES, booted
#        from a copy-on-write disk, so every run starts from the same state.
#
# Options:
#   -o OPTS   mount options added to the defaults
#             vers=3,proto=tcp,port=PORT,mountport=PORT,mountproto=tcp,nolock,retry=0
#   -O OPTS   mount options replacing the defaults
#   -e PATH   export to mount (default /)
#   -s DIR    share host folder DIR read-write with the guest at /share
#             (9p), for handshakes with the host and results
#   -f DIR    copy DIR into the guest at /files (test binaries)
#   -t SECS   time limit of the VM (default 600); the guest gives up 20 s
#             earlier and prints the kernel log
#   -m MiB    guest memory (default 1024)        -c N   guest CPUs (default 2)
#   -b        build (or check) the cached artefacts, then exit
#   -k        keep the run folder (console log) and print its path
#
# Guest environment: KNFS_MNT=/mnt KNFS_SERVER=10.0.2.2 KNFS_PORT, and
# KNFS_SHARE=/share with -s, KNFS_FILES=/files with -f.
#
# Environment:
#   KNFS_CACHE     cache of the built artefacts (default
#                  ~/.cache/filegate-knfs): the kernel, busybox, the
#                  initramfs and the Debian disk image, each rebuilt only
#                  when its inputs change (package versions, init.sh, the
#                  package list)
#   KNFS_PACKAGES  comma-separated Debian packages added to the Debian guest
#   KNFS_SUITE     Debian suite of the guest (default bookworm)
#   KNFS_MIRROR    Debian mirror for debootstrap (default: the one apt uses)
#   KNFS_ACCEL     kvm or tcg (default: kvm if a probe boot under KVM
#                  works, an answer kept in the cache)
#
# Needs qemu-system-x86, and debootstrap and e2fsprogs for the Debian
# guest; the kernel and busybox-static packages come through apt-get
# download, so the apt lists must be current (apt-get update). KVM is used
# when a probe boot under it works, else qemu's emulator (TCG).
#
# Output: the script's output on stdout; this tool's lines ("[vm] ...") on
# stderr. Exit status: 0 passed, 1 the script failed, 2 usage, 3 building
# the artefacts failed, 4 the mount failed, 5 the VM died, timed out or
# could not set up, 6 the umount failed after the script passed.
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
CACHE=${KNFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/filegate-knfs}
SUITE=${KNFS_SUITE:-bookworm}
# Modules the init loads; vm.sh adds what they depend on.
MODULES="virtio_pci virtio_net virtio_rng virtio_blk crc32c_generic ext4 nfsv3 9pnet_virtio 9p"
# The Debian guest's own packages; work.sh needs perl and strace.
DEBIAN_PACKAGES=strace${KNFS_PACKAGES:+,$KNFS_PACKAGES}

log() { echo "[vm] $*" >&2; }
fail() { # status message
  log "ERROR: $2"
  exit "$1"
}
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

MINIMAL=0 BUILD_ONLY=0 KEEP=0 LIMIT=600 MEM=1024 CPUS=2
ADD_OPTS= SET_OPTS= EXPORT=/ SHARE= FILES=
while getopts "o:O:e:s:f:t:m:c:Mbkh" opt; do
  case $opt in
    o) ADD_OPTS=$OPTARG ;;
    O) SET_OPTS=$OPTARG ;;
    e) EXPORT=$OPTARG ;;
    s) SHARE=$OPTARG ;;
    f) FILES=$OPTARG ;;
    t) LIMIT=$OPTARG ;;
    m) MEM=$OPTARG ;;
    c) CPUS=$OPTARG ;;
    M) MINIMAL=1 ;;
    b) BUILD_ONLY=1 ;;
    k) KEEP=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
if [ "$BUILD_ONLY" = 0 ]; then
  [ $# = 2 ] || usage
  PORT=$1 SCRIPT=$2
  [[ $PORT =~ ^[0-9]+$ ]] || fail 2 "PORT must be a number, not '$PORT'"
  [ -r "$SCRIPT" ] || fail 2 "cannot read $SCRIPT"
  [[ $LIMIT =~ ^[0-9]+$ ]] && [ "$LIMIT" -ge 60 ] || fail 2 "-t wants at least 60 seconds"
  [ -z "$SHARE" ] || [ -d "$SHARE" ] || fail 2 "-s $SHARE: not a folder"
  [ -z "$FILES" ] || [ -d "$FILES" ] || fail 2 "-f $FILES: not a folder"
fi
for c in qemu-system-x86_64 apt-get apt-cache dpkg-deb xz gzip sha256sum flock; do
  command -v "$c" >/dev/null || fail 3 "$c not found (apt-get install qemu-system-x86 xz-utils)"
done
mkdir -p "$CACHE" || fail 3 "cannot create $CACHE"

# ---- building the artefacts --------------------------------------------
# Each artefact lives in the cache with a .key file holding a digest of its
# inputs; a different digest rebuilds it.

key_of() { sha256sum | cut -c1-16; }
fresh() { [ -e "$CACHE/$1" ] && [ "$(cat "$CACHE/$1.key" 2>/dev/null)" = "$2" ]; }

# deb_of PACKAGE: "name version" of the package apt would install now.
deb_of() {
  apt-cache show --no-all-versions "$1" 2>/dev/null |
    awk -v p="$1" '/^Version:/ { print p, $2; exit }'
}

# unpack_deb PACKAGE DIR: download PACKAGE's .deb and extract it into DIR.
unpack_deb() {
  local tmp
  tmp=$(mktemp -d "$CACHE/deb.XXXXXX") || return 1
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$1" >&2); then
    rm -rf "$tmp"
    log "apt-get download $1 failed (is the apt list current? apt-get update)"
    return 1
  fi
  rm -rf "$2" && mkdir -p "$2" && dpkg-deb -x "$tmp"/*.deb "$2"
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

# The kernel: the package linux-image-amd64 points at, kept as an
# uncompressed ELF vmlinux. qemu boots that through its PVH entry, which
# spares the emulated CPU the decompression of a bzImage at every boot.
build_kernel() {
  local pkg deb
  pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
  deb=$( [ -z "$pkg" ] || deb_of "$pkg")
  if [ -z "$deb" ]; then
    # No apt list to ask: keep whichever kernel the cache has.
    [ -s "$CACHE/kernel/vmlinux" ] && return 0
    fail 3 "apt knows no linux-image-amd64 (apt-get update)"
  fi
  fresh kernel/vmlinux "$deb" && return 0
  log "build: kernel $deb"
  local dir=$CACHE/kernel
  unpack_deb "$pkg" "$dir" || fail 3 "cannot get $pkg"
  local image
  image=$(ls "$dir"/boot/vmlinuz-* 2>/dev/null | head -n 1)
  [ -n "$image" ] || fail 3 "$pkg holds no /boot/vmlinuz-*"
  unpack_bzimage "$image" "$dir/vmlinux.tmp" || fail 3 "cannot extract the ELF kernel from $image"
  mv "$dir/vmlinux.tmp" "$dir/vmlinux"
  basename "$(ls -d "$dir"/lib/modules/*)" >"$dir/release"
  echo "$deb" >"$CACHE/kernel/vmlinux.key"
}

# unpack_bzimage IMAGE OUT: the compressed kernel of a bzImage sits where
# its setup header says (payload_offset at 0x248 and payload_length at
# 0x24c, counted from the end of the setup sectors, whose number is at
# 0x1f1).
unpack_bzimage() {
  local sects off len start
  sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$1" | tr -d ' ')
  [ "$sects" != 0 ] || sects=4
  read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$1")
  start=$(((sects + 1) * 512 + off))
  local magic
  magic=$(od -An -tx1 -j "$start" -N2 "$1" | tr -d ' ')
  case $magic in
    fd37) tail -c +$((start + 1)) "$1" | head -c "$len" | xz -dc --single-stream >"$2" ;;
    1f8b) tail -c +$((start + 1)) "$1" | head -c "$len" | gzip -dc >"$2" 2>/dev/null ;;
    *) log "unknown kernel compression (magic $magic)"; return 1 ;;
  esac
  [ "$(head -c 4 "$2" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]
}

# busybox-static: the initramfs's userland, and the host's cpio and depmod.
build_busybox() {
  local deb
  deb=$(deb_of busybox-static)
  if [ -z "$deb" ]; then
    [ -x "$CACHE/busybox/bin/busybox" ] && return 0
    fail 3 "apt knows no busybox-static (apt-get update)"
  fi
  fresh busybox/bin/busybox "$deb" && return 0
  log "build: $deb"
  unpack_deb busybox-static "$CACHE/busybox" || fail 3 "cannot get busybox-static"
  echo "$deb" >"$CACHE/busybox/bin/busybox.key"
}

# module_closure ROOT RELEASE MODULE...: the .ko paths (relative to the
# release's module folder) of MODULEs and all they depend on, from the
# modules.dep that depmod wrote into ROOT.
module_closure() {
  local dep=$1/lib/modules/$2/modules.dep
  shift 2
  awk -v want="$*" '
    { sub(/:$/, "", $1); n = $1; sub(/.*\//, "", n); sub(/\.ko.*$/, "", n); gsub(/-/, "_", n)
      line[n] = $0 }
    END {
      k = split(want, w, " ")
      for (i = 1; i <= k; i++) {
        if (!(w[i] in line)) continue  # built into the kernel
        m = split(line[w[i]], f, /:? +/)
        for (j = 1; j <= m; j++) if (!(f[j] in seen)) { seen[f[j]] = 1; print f[j] }
      }
    }' "$dep"
}

# The initramfs: busybox, the modules, init.sh. A run appends a second
# archive with its script and settings.
build_initrd() {
  local release key
  release=$(cat "$CACHE/kernel/release")
  key=$({ cat "$CACHE/kernel/vmlinux.key" "$CACHE/busybox/bin/busybox.key" "$HERE/vm/init.sh"; echo "$MODULES"; } | key_of)
  fresh initrd.gz "$key" && return 0
  log "build: initramfs"
  local bb=$CACHE/busybox/bin/busybox kroot=$CACHE/kernel root=$CACHE/initrd
  [ -e "$kroot/lib/modules/$release/modules.dep" ] || "$bb" depmod -b "$kroot" "$release" ||
    fail 3 "depmod of the kernel's modules failed"
  rm -rf "$root" && mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,mnt,etc,vm} || fail 3 "mkdir $root"
  cp "$bb" "$root/bin/busybox"
  applet_links "$root" "$bb"
  local m
  for m in $(module_closure "$kroot" "$release" $MODULES); do
    mkdir -p "$root/lib/modules/$release/$(dirname "$m")"
    cp "$kroot/lib/modules/$release/$m" "$root/lib/modules/$release/$m" || fail 3 "copy module $m"
  done
  cp "$kroot/lib/modules/$release"/modules.builtin* "$root/lib/modules/$release/" 2>/dev/null
  "$bb" depmod -b "$root" "$release" || fail 3 "depmod of the initramfs failed"
  cp "$HERE/vm/init.sh" "$root/init" && chmod 755 "$root/init"
  ln -s /proc/self/mounts "$root/etc/mtab"
  (cd "$root" && find . | "$bb" cpio -o -H newc 2>/dev/null | gzip -1 >"$CACHE/initrd.gz.tmp") || fail 3 "cpio of the initramfs"
  mv "$CACHE/initrd.gz.tmp" "$CACHE/initrd.gz"
  echo "$key" >"$CACHE/initrd.gz.key"
  rm -rf "$root"
}

# applet_links ROOT BUSYBOX: a symlink per busybox applet.
applet_links() {
  local a
  for a in $("$2" --list-full); do
    [ -e "$1/$a" ] || ln -s /bin/busybox "$1/$a"
  done
}

# The Debian guest's disk: debootstrap into a folder, then an ext4 image
# made from it (mkfs.ext4 -d). Its key is the suite and package list, and
# this function's own text, so a change to the recipe rebuilds it.
build_debian() {
  local key
  key=$({ echo "$SUITE $DEBIAN_PACKAGES"; declare -f build_debian; } | key_of)
  fresh debian.img "$key" && return 0
  command -v debootstrap >/dev/null || fail 3 "debootstrap not installed (apt-get install debootstrap), or use -M"
  command -v mkfs.ext4 >/dev/null || fail 3 "mkfs.ext4 not installed (apt-get install e2fsprogs), or use -M"
  local mirror=${KNFS_MIRROR:-}
  if [ -z "$mirror" ]; then
    mirror=$(apt_mirror)
  fi
  [ -n "$mirror" ] || fail 3 "no Debian mirror in apt's sources: set KNFS_MIRROR"
  log "build: Debian $SUITE guest with $DEBIAN_PACKAGES from $mirror (about a minute)"
  local root=$CACHE/debian
  rm -rf "$root" && mkdir -p "$CACHE/debs"
  if ! debootstrap --variant=minbase --cache-dir="$CACHE/debs" --include="$DEBIAN_PACKAGES" \
    "$SUITE" "$root" "$mirror" >"$CACHE/debootstrap.log" 2>&1; then
    tail -n 15 "$CACHE/debootstrap.log" >&2
    fail 3 "debootstrap failed (log: $CACHE/debootstrap.log)"
  fi
  echo knfs-guest >"$root/etc/hostname"
  printf '127.0.0.1 localhost knfs-guest\n10.0.2.2 nfs-host\n' >"$root/etc/hosts"
  ln -sf ../proc/self/mounts "$root/etc/mtab"
  rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
  # Room for what the scripts write outside the mount (tmpfs holds /tmp).
  local kib
  kib=$(du -sk "$root" | cut -f1)
  kib=$((kib + kib / 4 + 65536))
  rm -f "$CACHE/debian.img.tmp"
  mkfs.ext4 -q -F -L knfs -O ^has_journal -d "$root" "$CACHE/debian.img.tmp" "${kib}k" >/dev/null ||
    fail 3 "mkfs.ext4 -d failed"
  mv "$CACHE/debian.img.tmp" "$CACHE/debian.img"
  echo "$key" >"$CACHE/debian.img.key"
  rm -rf "$root"
}

# apt_mirror: the first Debian archive in apt's sources (the deb822 URIs:
# fields, then one-line "deb" entries), not its security archive.
apt_mirror() {
  {
    awk '/^[[:space:]]*URIs:/ { for (i = 2; i <= NF; i++) print $i }' /etc/apt/sources.list.d/*.sources 2>/dev/null
    awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; break } }' /etc/apt/sources.list 2>/dev/null
  } | grep -v -e '-security' | head -n 1
}

build() {
  exec 8>"$CACHE/lock"
  flock 8
  build_kernel
  build_busybox
  build_initrd
  [ "$MINIMAL" = 1 ] || build_debian
  flock -u 8
  exec 8>&-
}

# accelerator: kvm if a probe boot under KVM reaches the init, else tcg. A
# /dev/kvm that opens is not enough: under some hypervisors the guest hangs.
# The answer is kept in the cache; KNFS_ACCEL=kvm|tcg overrides it.
accelerator() {
  if [ -n "${KNFS_ACCEL:-}" ]; then echo "$KNFS_ACCEL"; return; fi
  if [ ! -e "$CACHE/accel" ]; then
    local found=tcg
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
      timeout 15 qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot \
        -accel kvm -machine pc -cpu host -m 256 -kernel "$CACHE/kernel/vmlinux" \
        -initrd "$CACHE/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
        -serial null -serial file:/dev/stdout </dev/null 2>/dev/null | grep -q '^@@vm end probe'; then
      found=kvm
    fi
    echo "$found" >"$CACHE/accel"
  fi
  cat "$CACHE/accel"
}

T0=$SECONDS
build
if [ "$BUILD_ONLY" = 1 ]; then
  # The probe boot belongs to the preparation too.
  log "artefacts ready in $CACHE; accelerator $(accelerator)"
  exit 0
fi

# ---- running ------------------------------------------------------------
RUN=$(mktemp -d "$CACHE/run.XXXXXX") || fail 3 "mktemp in $CACHE"
QEMU_PID=
finish() {
  [ -z "$QEMU_PID" ] || kill "$QEMU_PID" 2>/dev/null
  if [ "$KEEP" = 1 ]; then log "run folder kept: $RUN"; else rm -rf "$RUN"; fi
}
trap finish EXIT
trap 'exit 130' INT TERM

OPTS=vers=3,proto=tcp,port=$PORT,mountport=$PORT,mountproto=tcp,nolock,retry=0
[ -z "$SET_OPTS" ] || OPTS=$SET_OPTS
[ -z "$ADD_OPTS" ] || OPTS=$OPTS,$ADD_OPTS

mkdir -p "$RUN/add/vm"
cp "$SCRIPT" "$RUN/add/vm/script" && chmod 755 "$RUN/add/vm/script"
{
  printf 'VM_PORT=%q\nVM_OPTS=%q\nVM_EXPORT=%q\n' "$PORT" "$OPTS" "$EXPORT"
  printf 'VM_DEBIAN=%q\nVM_SHARE=%q\nVM_LIMIT=%q\n' "$((1 - MINIMAL))" "$([ -z "$SHARE" ] || echo 1)" "$((LIMIT - 20))"
} >"$RUN/add/vm/config"
if [ -n "$FILES" ]; then
  mkdir -p "$RUN/add/files" && cp -a "$FILES/." "$RUN/add/files/" || fail 3 "copy $FILES"
fi
(cd "$RUN/add" && find . | "$CACHE/busybox/bin/busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$RUN/add.gz") || fail 3 "cpio of the run's files"
cat "$CACHE/initrd.gz" "$RUN/add.gz" >"$RUN/initrd"

ACCEL=$(accelerator)
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot
  -accel "$ACCEL" -machine pc -cpu max -smp "$CPUS" -m "$MEM"
  -kernel "$CACHE/kernel/vmlinux" -initrd "$RUN/initrd"
  -append "console=ttyS0 quiet loglevel=4 panic=-1 mitigations=off"
  -serial "file:$RUN/console" -serial file:/dev/stdout
  -netdev user,id=net -device virtio-net-pci,netdev=net
  -device virtio-rng-pci)
[ "$MINIMAL" = 1 ] || QEMU+=(-drive "file=$CACHE/debian.img,if=virtio,format=raw,snapshot=on,cache=unsafe")
[ -z "$SHARE" ] || QEMU+=(-virtfs "local,path=$(readlink -f "$SHARE"),mount_tag=share,security_model=none,id=share")

log "boot $([ "$MINIMAL" = 1 ] && echo busybox || echo Debian) guest ($ACCEL, kernel $(cat "$CACHE/kernel/release")), server 10.0.2.2:$PORT, options $OPTS"
T1=$SECONDS
# The guest's second serial port is qemu's stdout: script output goes to
# ours, the init's "@@vm" lines to stderr and into the run folder.
timeout -k 5 "$LIMIT" "${QEMU[@]}" </dev/null 2>"$RUN/qemu.err" |
  while IFS= read -r line; do
    line=${line%$'\r'}
    case $line in
      "@@vm "*)
        echo "[vm] ${line#@@vm }" >&2
        echo "${line#@@vm }" >>"$RUN/notes"
        ;;
      *) printf '%s\n' "$line" ;;
    esac
  done
QEMU_RC=${PIPESTATUS[0]}
END=$(grep '^end ' "$RUN/notes" 2>/dev/null | tail -n 1)
STATUS=$(echo "$END" | cut -d' ' -f2)
log "build check $((T1 - T0))s, VM $((SECONDS - T1))s, ${END:-no end line}"

dump() {
  log "qemu exit status $QEMU_RC; $(tail -n 3 "$RUN/qemu.err" | tr '\n' ' ')"
  log "last console lines:"
  tail -n 20 "$RUN/console" | tr -d '\r' | sed 's/^/[vm] | /' >&2
}
case $STATUS in
  ok) exit 0 ;;
  script-failed) exit 1 ;;
  mount-failed) exit 4 ;;
  umount-failed) exit 6 ;;
  *)
    dump
    exit 5
    ;;
esac
