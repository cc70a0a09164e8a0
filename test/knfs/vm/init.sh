#!/bin/sh
# init.sh - PID 1 of the test VM that test/knfs/vm.sh boots (busybox sh in
# the initramfs). It brings up the network behind qemu's user NAT, mounts
# the NFS server of the host (10.0.2.2 from here), runs the guest script
# in the mount and powers off.
#
# /vm/config (written by vm.sh) sets VM_PORT, VM_OPTS, VM_EXPORT, VM_DEBIAN
# (1: switch to the Debian file system on /dev/vda for the script),
# VM_SHARE (1: mount the host folder shared over 9p at /share) and
# VM_LIMIT (seconds before this init gives up on the script).
#
# Everything for the host goes to the second serial port: the script's
# output as is, and this init's own lines prefixed "@@vm ". The last of
# those is "@@vm end STATUS ..." with STATUS one of ok, script-failed,
# umount-failed, mount-failed, setup-failed, timeout.
PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /run && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run

# Where to find modules a mount asks for while the script runs.
echo /sbin/modprobe >/proc/sys/kernel/modprobe
stty -F /dev/ttyS1 raw -echo 2>/dev/null
exec 3>/dev/ttyS1 </dev/null
if [ ! -e /vm/config ]; then
  # Booted without a run's settings: vm.sh asks whether this accelerator works.
  echo "@@vm end probe" >&3
  poweroff -f
fi
. /vm/config

up() { read -r u _ </proc/uptime && echo "$u"; }
say() { echo "@@vm $*" >&3; }
end() { # status [detail]
  say "end $1 uptime=$(up)${2:+ $2}"
  sync
  poweroff -f
  # Not reached unless poweroff failed: a panic ends qemu (-no-reboot).
  echo o >/proc/sysrq-trigger
}
# The kernel's last lines tell why a mount or script hung.
kernel_tail() { dmesg | tail -n "$1" | sed 's/^/@@vm kernel: /' >&3; }

say "init uptime=$(up)"
for m in virtio_pci virtio_net virtio_rng; do
  modprobe "$m" 2>/dev/null || say "note: modprobe $m failed (built in?)"
done
ip link set lo up
if ! { ip link set eth0 up && ip addr add 10.0.2.15/24 dev eth0 && ip route add default via 10.0.2.2; }; then
  kernel_tail 20
  end setup-failed "no network"
fi

ROOT=
if [ "$VM_DEBIAN" = 1 ]; then
  modprobe -a virtio_blk crc32c_generic ext4
  i=0
  while [ ! -b /dev/vda ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
  ROOT=/debian
  mkdir -p $ROOT
  if ! mount -t ext4 -o noatime /dev/vda $ROOT; then
    kernel_tail 20
    end setup-failed "cannot mount the Debian file system"
  fi
  for d in proc sys dev dev/pts; do mount -o bind /$d $ROOT/$d; done
  mount -t tmpfs tmpfs $ROOT/tmp
  mount -t tmpfs tmpfs $ROOT/run
  cp -a /vm $ROOT/vm
  [ ! -d /files ] || cp -a /files $ROOT/files
fi
if [ "$VM_SHARE" = 1 ]; then
  modprobe -a 9pnet_virtio 9p
  mkdir -p $ROOT/share
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=131072 share $ROOT/share ||
    end setup-failed "cannot mount the 9p share"
fi
modprobe nfsv3 || end setup-failed "modprobe nfsv3 failed"
say "ready uptime=$(up)"

# Give up shortly before the host's own time limit, with the kernel's view.
(
  sleep "$VM_LIMIT"
  say "timeout: the script ran past ${VM_LIMIT}s"
  echo w >/proc/sysrq-trigger
  kernel_tail 60
  end timeout
) &

# busybox mount hands the options to the kernel as text; the kernel does
# not resolve names, hence addr=.
mkdir -p $ROOT/mnt
t0=$(up)
if ! mount -t nfs -o "$VM_OPTS,addr=10.0.2.2" "10.0.2.2:$VM_EXPORT" $ROOT/mnt >&3 2>&3; then
  kernel_tail 20
  end mount-failed
fi
say "mounted in $(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }')s: $(grep " $ROOT/mnt " /proc/mounts)"

t0=$(up)
set -- HOME=/root TERM=dumb KNFS_MNT=/mnt KNFS_SERVER=10.0.2.2 KNFS_PORT="$VM_PORT"
[ "$VM_SHARE" != 1 ] || set -- "$@" KNFS_SHARE=/share
[ ! -d /files ] || set -- "$@" KNFS_FILES=/files
rc=0
env "$@" chroot "${ROOT:-/}" /bin/sh -c 'cd /mnt && exec /vm/script' >&3 2>&3 || rc=$?
say "script rc=$rc in $(awk -v a="$t0" -v b="$(up)" 'BEGIN { print b - a }')s"

cd / && sync
umount $ROOT/mnt >&3 2>&3
urc=$?
if [ "$rc" != 0 ]; then
  end script-failed "rc=$rc"
elif [ "$urc" != 0 ]; then
  end umount-failed
fi
end ok
