#!/bin/bash
# test/knfs/run.sh - test `filegate serve` with the real Linux NFS client.
#
#   test/knfs/run.sh [-k] [SCENARIO...]      (default: every scenario)
#   test/knfs/run.sh -b [SCENARIO...]        build their VM artefacts only
#
# Scenarios:
#   smoke       test/knfs/guest/smoke.sh: 24 POSIX checks.
#   survive     test/knfs/guest/survive.sh: open files, cwd and handles
#               survive a SIGKILL and restart of the server, and renames.
#   smoke-s3, survive-s3
#               the same with an S3 backend: a versitygw server with a
#               fresh bucket (test/knfs/s3server) and a config file with
#               [backend] type = "s3", uploading after 200 ms.
#   smoke-nfsd, survive-nfsd
#               smoke and survive with squash = "none": the guest's root
#               stays root (the plain scenarios run with the default
#               root_squash).
#   perms-nfsd  test/knfs/guest/perms.sh against nfsd with root_squash:
#               users 1000 and 1001 (test/knfs/asuser, built static and
#               copied in) hit EACCES/EPERM where a local file system
#               would; the guest's root acts as nobody. The backend is
#               seeded with a root-owned file and folder (run as root).
#   mount-nfsd  smoke against nfsd mounted with "vers=3,nolock" only: the
#               ports come from its portmapper on 127.0.0.1:111 (or the
#               rpcbind there). Needs root; skipped otherwise.
#   work-nfsd, work-s3
#               test/knfs/guest/work.sh in the Debian guest (no -M; built
#               once into KNFS_CACHE by debootstrap, with git, xz-utils,
#               sqlite3 and vim-tiny added through KNFS_PACKAGES) with the
#               default config (root_squash) and mount options, as user
#               1000: tar, git, vim and office-style saves, sqlite, parallel
#               writers, then a server restart and everything read back.
#               After the VM: `filegate flush --wait` through the admin
#               socket, and test/knfs/backendcheck compares the POSIX
#               backend folder (work-nfsd) or the versitygw bucket (work-s3)
#               with the listing the guest wrote into the share. Needs
#               debootstrap: the first build takes a minute or two, then
#               each scenario a few minutes in the emulator (costs:
#               docs/TESTING.md).
#
# For each scenario it starts `bin/filegate serve --listen 127.0.0.1:PORT
# --state DIR` on a free port with a fresh state directory, waits until the
# port accepts connections, and boots a busybox VM with test/knfs/vm.sh -M
# that mounts the server and runs the guest script.
# The survive scenario also shares a host folder into the guest (-s) and
# restarts the server when the guest asks (see survive.sh).
#
# Guest scripts print "ok   CHECK" / "FAIL CHECK: why" lines and a summary
# "NAME: P passed, F failed". test/knfs/known-failures.txt lists
# SCENARIO/CHECK names expected to fail, each with its reason: they are
# reported but do not fail the run; any other failure does. A listed check
# that passes is reported so its line can be removed.
#
# Options:
#   -b   build (or check) the VM artefacts the scenarios need, then exit
#   -k   keep the log folder even when everything passed
# Environment:
#   KNFS_TOOL      the VM launcher (default test/knfs/vm.sh)
#   KNFS_CACHE     VM artefacts cache, passed on to the launcher
#   KNFS_TIMEOUT   time limit per VM in seconds (default 300; the work
#                  scenarios: KNFS_WORK_TIMEOUT, default 900)
#   FILEGATE_BIN   server binary to test (default: build bin/filegate)
#   FILEGATE_VERSITYGW  versitygw binary for the -s3 scenarios (default:
#                  PATH, $(go env GOPATH)/bin, ~/.cache/filegate-tools/bin)
#   FILEGATE_TEST_NO_SKIP=1  fail, rather than skip, when qemu,
#                  debootstrap or versitygw is missing (CI sets it)
#
# Exit status: 0 every scenario passed (or all skipped), 1 a scenario
# failed, 2 usage. Logs (server, guest output, the launcher's [vm] lines)
# go to a temporary folder that is printed, and kept, on failure.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/../.." && pwd)
HERE=$ROOT/test/knfs
KNFS_TOOL=${KNFS_TOOL:-$HERE/vm.sh}
TIMEOUT=${KNFS_TIMEOUT:-300}
WORK_TIMEOUT=${KNFS_WORK_TIMEOUT:-900}
KNOWN_FILE=$HERE/known-failures.txt
ALL_SCENARIOS=(smoke survive smoke-s3 survive-s3 smoke-nfsd survive-nfsd perms-nfsd mount-nfsd work-nfsd work-s3)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
say() { echo "knfs: $*"; }

KEEP=0 BUILD_ONLY=0
while getopts "bkh" opt; do
  case $opt in
    b) BUILD_ONLY=1 ;;
    k) KEEP=1 ;;
    *) usage ;;
  esac
done
shift $((OPTIND - 1))
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] || SCENARIOS=("${ALL_SCENARIOS[@]}")
for s in "${SCENARIOS[@]}"; do
  case " ${ALL_SCENARIOS[*]} " in
    *" $s "*) ;;
    *) echo "knfs: unknown scenario '$s' (want: ${ALL_SCENARIOS[*]})" >&2; exit 2 ;;
  esac
done

skip() {
  if [ "${FILEGATE_TEST_NO_SKIP:-}" = 1 ]; then
    say "FAIL: $* (FILEGATE_TEST_NO_SKIP=1 forbids skipping)"; exit 1
  fi
  say "SKIP: $*"; exit 0
}
[ -x "$KNFS_TOOL" ] || { say "FAIL: no VM launcher at $KNFS_TOOL"; exit 1; }
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
command -v python3 >/dev/null || skip "python3 not installed (run.sh picks free ports with it)"

SMOKE=$HERE/guest/smoke.sh

# The Debian guest of the work scenarios: the packages work.sh needs
# beyond the launcher's base system.
WORK_PACKAGES=git,sqlite3,vim-tiny,xz-utils${KNFS_PACKAGES:+,$KNFS_PACKAGES}
wants_debian() { case " ${SCENARIOS[*]} " in *" work-"*) return 0 ;; esac; return 1; }

if [ "$BUILD_ONLY" = 1 ]; then
  "$KNFS_TOOL" -b -M || { say "FAIL: building the busybox guest"; exit 1; }
  if wants_debian; then
    KNFS_PACKAGES=$WORK_PACKAGES "$KNFS_TOOL" -b || { say "FAIL: building the Debian guest"; exit 1; }
  fi
  exit 0
fi

# Known failures: "SCENARIO/CHECK  # why" per line; '#' starts a comment.
KNOWN=()
if [ -r "$KNOWN_FILE" ]; then
  while IFS= read -r line || [ -n "$line" ]; do
    line=${line%%#*}
    entry=
    read -r entry _ <<<"$line" || true
    if [ -n "$entry" ]; then KNOWN+=("$entry"); fi
  done <"$KNOWN_FILE"
fi
is_known() { local k; for k in ${KNOWN[@]+"${KNOWN[@]}"}; do [ "$k" = "$1" ] && return 0; done; return 1; }

LOGDIR=$(mktemp -d "${TMPDIR:-/tmp}/filegate-knfs.XXXXXX")
SERVER_PID=
SERVER_CONFIG= # --config file of the scenario, if any
S3_PID=
VM_PID=
FAILURES=0

stop_server() { # [signal]: stop the server we started; TERM waits up to 15 s, then KILLs
  [ -n "$SERVER_PID" ] || return 0
  local sig=${1:-TERM} i
  kill -"$sig" "$SERVER_PID" 2>/dev/null || true
  if [ "$sig" != KILL ]; then
    for ((i = 0; i < 150; i++)); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

stop_vm() {
  [ -n "$VM_PID" ] || return 0
  # The launcher runs in its own process group (setsid): TERM reaches its
  # qemu too, and the launcher cleans up.
  kill -TERM -- "-$VM_PID" 2>/dev/null || kill -TERM "$VM_PID" 2>/dev/null || true
  wait "$VM_PID" 2>/dev/null || true
  VM_PID=
}

stop_s3() {
  [ -n "$S3_PID" ] || return 0
  kill -TERM "$S3_PID" 2>/dev/null || true
  wait "$S3_PID" 2>/dev/null || true
  S3_PID=
}

cleanup() {
  local rc=$?
  stop_vm
  stop_server TERM
  stop_s3
  if [ "$KEEP" = 1 ] || [ "$FAILURES" != 0 ] || [ "$rc" != 0 ]; then
    say "logs kept in $LOGDIR"
  else
    rm -rf "$LOGDIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -n "${FILEGATE_BIN:-}" ]; then
  BIN=$FILEGATE_BIN
else
  say "building bin/filegate"
  (cd "$ROOT" && go build -o bin/filegate ./cmd/filegate) || { say "FAIL: go build"; FAILURES=1; exit 1; }
  BIN=$ROOT/bin/filegate
fi

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_server() { # port statedir logfile: start and wait (30 s) until it listens
  local port=$1 state=$2 log=$3 i rc
  echo "==== harness: starting server on 127.0.0.1:$port at $(date +%T.%N)" >>"$log"
  local config=()
  if [ -n "$SERVER_CONFIG" ]; then config=(--config "$SERVER_CONFIG"); fi
  "$BIN" serve ${config[@]+"${config[@]}"} --listen "127.0.0.1:$port" --state "$state" --log-level debug >>"$log" 2>&1 &
  SERVER_PID=$!
  for ((i = 0; i < 300; i++)); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      rc=0; wait "$SERVER_PID" || rc=$?
      SERVER_PID=
      echo "server exited with status $rc before listening on 127.0.0.1:$port"
      return 1
    fi
    port_open "$port" && return 0
    sleep 0.1
  done
  echo "server not listening on 127.0.0.1:$port after 30 s"
  return 1
}

restart_server() { # port statedir logfile: SIGKILL, then start again
  echo "==== harness: SIGKILL server (pid $SERVER_PID) at $(date +%T.%N)" >>"$3"
  stop_server KILL
  start_server "$@"
}

knfs_status() {
  case $1 in
    0) echo "passed" ;; 1) echo "guest script failed" ;; 2) echo "usage error" ;;
    3) echo "VM build failed" ;; 4) echo "mount failed" ;; 5) echo "VM died or timed out" ;;
    6) echo "umount failed" ;; 130) echo "interrupted" ;; *) echo "unknown status" ;;
  esac
}

RESULTS=()
record() { # verdict name detail
  RESULTS+=("$(printf '%-4s %-8s %s' "$1" "$2" "$3")")
  if [ "$1" != PASS ]; then FAILURES=$((FAILURES + 1)); fi
}

dump_logs() { # dir
  local f
  if [ -s "$1/guest.out" ]; then
    say "---- $1/guest.out (guest script output)"
    sed 's/^/  | /' "$1/guest.out"
  fi
  for f in knfs.log harness.log backendcheck.log server.log s3server.log; do
    [ -s "$1/$f" ] || continue
    say "---- tail of $1/$f"
    tail -n 40 "$1/$f" | sed 's/^/  | /'
  done
}

# start_s3 dir: start versitygw with a fresh bucket (test/knfs/s3server),
# wait (30 s) for the config and credentials it writes, and use them.
start_s3() {
  local dir=$1 i
  "$S3SERVER" -dir "$dir/s3" -config "$dir/filegate.toml" -env "$dir/s3.env" >"$dir/s3server.log" 2>&1 &
  S3_PID=$!
  for ((i = 0; i < 300; i++)); do
    if [ -e "$dir/filegate.toml" ]; then
      # shellcheck disable=SC1091
      . "$dir/s3.env"
      SERVER_CONFIG=$dir/filegate.toml
      return 0
    fi
    kill -0 "$S3_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "versitygw did not start: $(tail -n 3 "$dir/s3server.log" | tr '\n' ' ')"
  return 1
}

run_scenario() { # name guest-script share(0|1) backend(posix|s3|nfsd) guest(minimal|debian)
  local name=$1 script=$2 share=$3 backend=${4:-posix} guest=${5:-minimal}
  local dir=$LOGDIR/$name port rc=0 restarts=0 died='' problems=()
  mkdir -p "$dir/state"
  : >"$dir/guest.out"
  SERVER_CONFIG=
  local mountopts=()
  if [ "$backend" = portmap ]; then
    backend=nfsd
    mountopts=(-O vers=3,nolock)
  fi
  if [ "$backend" = nfsd ]; then
    printf '[server]\nsquash = "none"\n' >"$dir/filegate.toml"
    SERVER_CONFIG=$dir/filegate.toml
  fi
  local files=()
  if [ "$backend" = perms ]; then
    printf '[server]\n' >"$dir/filegate.toml"
    SERVER_CONFIG=$dir/filegate.toml
    mkdir -p "$dir/state/backend/rootdir" "$dir/files"
    echo root >"$dir/state/backend/rootfile"
    chmod 644 "$dir/state/backend/rootfile"
    chmod 755 "$dir/state/backend/rootdir"
    if ! (cd "$ROOT" && CGO_ENABLED=0 go build -o "$dir/files/asuser" ./test/knfs/asuser) >>"$dir/harness.log" 2>&1; then
      record FAIL "$name" "go build asuser"
      return 0
    fi
    files=(-f "$dir/files")
  fi
  if [ "$backend" = s3 ] && ! start_s3 "$dir" >>"$dir/harness.log"; then
    record FAIL "$name" "$(tail -n 1 "$dir/harness.log")"
    say "$name: FAIL: $(tail -n 1 "$dir/harness.log")"
    dump_logs "$dir"
    return 0
  fi
  port=$(free_port)
  local args=(-M -t "$TIMEOUT" ${files[@]+"${files[@]}"} ${mountopts[@]+"${mountopts[@]}"})
  # The Debian guest runs with the default mount options.
  [ "$guest" = minimal ] || args=(-t "$WORK_TIMEOUT" ${mountopts[@]+"${mountopts[@]}"})
  if [ "$share" = 1 ]; then
    mkdir -p "$dir/share"
    args+=(-s "$dir/share")
    # actimeo=0: revalidate attributes with the server on every access, so
    # the old handles are really used after the restart.
    [ "$guest" != minimal ] || args+=(-o actimeo=0)
  fi
  say "=== $name: server 127.0.0.1:$port, guest $(basename "$script"), logs $dir"
  if ! start_server "$port" "$dir/state" "$dir/server.log" >>"$dir/harness.log"; then
    record FAIL "$name" "$(tail -n 1 "$dir/harness.log")"
    say "$name: FAIL: $(tail -n 1 "$dir/harness.log")"
    dump_logs "$dir"
    return 0
  fi

  KNFS_PACKAGES=$WORK_PACKAGES setsid "$KNFS_TOOL" "${args[@]}" "$port" "$script" >"$dir/guest.out" 2>"$dir/knfs.log" </dev/null &
  VM_PID=$!
  while kill -0 "$VM_PID" 2>/dev/null; do
    if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
      # A hard mount would hang until the VM's time limit: stop now.
      rc=0; wait "$SERVER_PID" || rc=$?
      SERVER_PID=
      died="server exited with status $rc during the run"
      say "$name: $died; stopping the VM"
      stop_vm
      break
    fi
    if [ "$share" = 1 ] && [ -e "$dir/share/restart-request" ]; then
      rm -f "$dir/share/restart-request"
      restarts=$((restarts + 1))
      say "$name: guest asked for a restart: SIGKILL and restart the server"
      if restart_server "$port" "$dir/state" "$dir/server.log" >"$dir/share/restart-failed.tmp"; then
        rm -f "$dir/share/restart-failed.tmp"
        : >"$dir/share/restarted"
      else
        mv "$dir/share/restart-failed.tmp" "$dir/share/restart-failed"
        cat "$dir/share/restart-failed" >>"$dir/harness.log"
      fi
    fi
    sleep 0.2
  done
  rc=0
  if [ -n "$VM_PID" ]; then wait "$VM_PID" || rc=$?; fi
  VM_PID=
  if [ "$guest" = debian ] && [ -z "$died" ]; then
    local bad
    bad=$(work_backend_check "$dir" "$backend") || problems+=("$bad")
  fi
  stop_server TERM
  stop_s3

  # Verdict from the guest's own lines.
  local summary fails=() unexpected=() known_hit=() known_ok=() f k
  summary=$(grep -aE '^[A-Z]+: [0-9]+ passed, [0-9]+ failed' "$dir/guest.out" | tail -n 1 || true)
  mapfile -t fails < <(sed -n 's/^FAIL \([^: ]*\):.*/\1/p' "$dir/guest.out")
  for f in ${fails[@]+"${fails[@]}"}; do
    if is_known "$name/$f"; then known_hit+=("$f"); else unexpected+=("$f"); fi
  done
  for k in ${KNOWN[@]+"${KNOWN[@]}"}; do
    if [ "${k%%/*}" = "$name" ] && grep -qxF "ok   ${k#*/}" "$dir/guest.out"; then
      known_ok+=("${k#*/}")
    fi
  done

  if [ -n "$died" ]; then problems+=("$died"); fi
  case $rc in
    0 | 1) ;; # 1: the guest script failed; the FAIL lines say whether that is expected
    *) problems+=("VM launcher exit $rc ($(knfs_status "$rc"))") ;;
  esac
  if [ -z "$summary" ]; then problems+=("guest script printed no summary (did it finish?)"); fi
  if [ "$rc" = 1 ] && [ ${#fails[@]} = 0 ]; then problems+=("guest script failed without a FAIL line"); fi
  if [ ${#unexpected[@]} != 0 ]; then problems+=("unexpected failures: ${unexpected[*]}"); fi
  if [ "$share" = 1 ] && [ "$restarts" != 1 ]; then
    problems+=("expected 1 server restart, did $restarts")
  fi

  local detail=${summary:-no summary}
  [ ${#known_hit[@]} = 0 ] || detail+="; known failures: ${known_hit[*]}"
  [ ${#known_ok[@]} = 0 ] || detail+="; listed as known failures but passed (remove from known-failures.txt): ${known_ok[*]}"
  if [ ${#problems[@]} = 0 ]; then
    record PASS "$name" "$detail"
    say "$name: PASS: $detail"
  else
    local p joined
    joined=$(printf '%s; ' "${problems[@]}")
    record FAIL "$name" "${joined%; } [$detail]"
    say "$name: FAIL"
    for p in "${problems[@]}"; do say "  - $p"; done
    dump_logs "$dir"
  fi
}

# work_backend_check dir backend: after a work scenario's VM, flush the
# server and compare its backend with the guest's listing.
work_backend_check() {
  local dir=$1 backend=$2
  local where=(-posix "$dir/state/backend")
  [ "$backend" != s3 ] || where=(-s3 "$dir/filegate.toml")
  [ -s "$dir/share/work-listing.txt" ] || { echo "the guest wrote no work-listing.txt"; return 1; }
  [ -n "$SERVER_PID" ] || { echo "no server left to flush"; return 1; }
  echo "==== harness: filegate flush --wait at $(date +%T.%N)" >>"$dir/harness.log"
  if ! "$BIN" flush --wait --timeout 5m --state "$dir/state" >>"$dir/harness.log" 2>&1; then
    echo "filegate flush --wait failed: $(tail -n 1 "$dir/harness.log")"; return 1
  fi
  if ! "$BACKENDCHECK" -listing "$dir/share/work-listing.txt" -under work "${where[@]}" >"$dir/backendcheck.log" 2>&1; then
    echo "backend differs from the share: $(grep -m 3 problem: "$dir/backendcheck.log" | tr '\n' ' ')$(tail -n 1 "$dir/backendcheck.log")"; return 1
  fi
  say "$(basename "$dir"): $(tail -n 1 "$dir/backendcheck.log")" >&2
}

# The work scenarios' Debian guest, and their backend checker built from
# this tree.
if wants_debian; then
  command -v debootstrap >/dev/null || skip "debootstrap not installed for the work scenarios (apt-get install debootstrap)"
  BACKENDCHECK=$LOGDIR/backendcheck
  (cd "$ROOT" && go build -o "$BACKENDCHECK" ./test/knfs/backendcheck) || { say "FAIL: go build backendcheck"; FAILURES=1; exit 1; }
fi

# The -s3 scenarios need versitygw, and a helper built from this tree.
case " ${SCENARIOS[*]} " in
  *-s3" "*)
    VGW=${FILEGATE_VERSITYGW:-}
    if [ -z "$VGW" ]; then
      for c in "$(command -v versitygw || true)" "$(go env GOPATH)/bin/versitygw" "${XDG_CACHE_HOME:-$HOME/.cache}/filegate-tools/bin/versitygw"; do
        if [ -n "$c" ] && [ -x "$c" ]; then VGW=$c; break; fi
      done
    fi
    [ -n "$VGW" ] && [ -x "$VGW" ] || skip "versitygw not found for the -s3 scenarios (go install github.com/versity/versitygw/cmd/versitygw@v1.8.0)"
    export FILEGATE_VERSITYGW=$VGW
    S3SERVER=$LOGDIR/s3server
    (cd "$ROOT" && go build -o "$S3SERVER" ./test/knfs/s3server) || { say "FAIL: go build s3server"; FAILURES=1; exit 1; }
    ;;
esac

for s in "${SCENARIOS[@]}"; do
  case $s in
    smoke) run_scenario smoke "$SMOKE" 0 ;;
    survive) run_scenario survive "$HERE/guest/survive.sh" 1 ;;
    work-nfsd) run_scenario work-nfsd "$HERE/guest/work.sh" 1 posix debian ;;
    work-s3) run_scenario work-s3 "$HERE/guest/work.sh" 1 s3 debian ;;
    smoke-s3) run_scenario smoke-s3 "$SMOKE" 0 s3 ;;
    survive-s3) run_scenario survive-s3 "$HERE/guest/survive.sh" 1 s3 ;;
    smoke-nfsd) run_scenario smoke-nfsd "$SMOKE" 0 nfsd ;;
    survive-nfsd) run_scenario survive-nfsd "$HERE/guest/survive.sh" 1 nfsd ;;
    perms-nfsd) run_scenario perms-nfsd "$HERE/guest/perms.sh" 0 perms ;;
    mount-nfsd)
      if [ "$(id -u)" = 0 ]; then
        run_scenario mount-nfsd "$SMOKE" 0 portmap
      elif [ "${FILEGATE_TEST_NO_SKIP:-}" = 1 ]; then
        record FAIL mount-nfsd "needs root for the portmapper port 111 (FILEGATE_TEST_NO_SKIP=1 forbids skipping)"
      else
        say "SKIP mount-nfsd: needs root for the portmapper port 111"
      fi ;;
  esac
done

say "==== summary"
for r in "${RESULTS[@]}"; do say "$r"; done
if [ "$FAILURES" = 0 ]; then
  say "RESULT: PASS (${#RESULTS[@]} scenarios)"
else
  say "RESULT: FAIL ($FAILURES of ${#RESULTS[@]} scenarios failed; logs in $LOGDIR)"
  exit 1
fi
