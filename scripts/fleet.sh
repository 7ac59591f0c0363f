#!/usr/bin/env bash
# Start and stop the simulated fleet (bin/mxfleet) for demos, benchmarks and tests.
#
#   scripts/fleet.sh start DIR CONF... [-- MXFLEET-ARGS...]
#   scripts/fleet.sh stop DIR
#
# start: makes the certificate variants in DIR/certs when missing (scripts/certs.sh, with SANs that
# cover every configured MX name), starts mxfleet in the background with its readiness on a FIFO,
# and returns once the fleet wrote "ready" (bounded wait, FLEET_READY_TIMEOUT seconds, default 30),
# never by sleeping a fixed time. It leaves DIR/fleet.pid, DIR/manifest.jsonl, DIR/fleet.zone
# (origin FLEET_ORIGIN, default fleet.test), DIR/fleet.log and DIR/startup_ms (exec to ready).
# stop: TERM to the PID in DIR/fleet.pid (checked to be an mxfleet), waits for it to exit, KILL
# after 10 s. Binary: $MXFLEET, else $BIN/mxfleet, else bin/mxfleet.
set -euo pipefail

die() { echo "fleet.sh: error: $*" >&2; exit 1; }
usage() { echo "usage: fleet.sh start DIR CONF... [-- MXFLEET-ARGS...] | fleet.sh stop DIR" >&2; exit 2; }

ROOT=$(cd "$(dirname "$0")/.." && pwd)
FLEET=${MXFLEET:-${BIN:-$ROOT/bin}/mxfleet}
case "$FLEET" in /*) ;; *) FLEET=$ROOT/$FLEET ;; esac

# pid_alive PID: PID exists, is not a zombie, and is an mxfleet (guards against pid reuse).
pid_alive() {
  local st
  [ "$(cat "/proc/$1/comm" 2>/dev/null)" = mxfleet ] || return 1
  st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "${st%% *}" != Z ]
}

cmd_start() {
  [ $# -ge 2 ] || usage
  local dir=$1; shift
  local confs=() extra=()
  while [ $# -gt 0 ]; do
    if [ "$1" = -- ]; then shift; extra=("$@"); break; fi
    [ -r "$1" ] || die "cannot read config $1"
    confs+=(-c "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")")
    shift
  done
  [ ${#confs[@]} -gt 0 ] || usage
  [ -x "$FLEET" ] || die "$FLEET not built (run: make bin/mxfleet)"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/fleet.pid" ] && pid_alive "$(cat "$dir/fleet.pid")"; then
    die "a fleet is already running from $dir (pid $(cat "$dir/fleet.pid")); run: fleet.sh stop $dir"
  fi
  local sans=() out
  out=$("$FLEET" "${confs[@]}" --cert-names) || die "bad configuration"
  [ -z "$out" ] || mapfile -t sans <<<"$out"
  "$ROOT/scripts/certs.sh" "$dir/certs" mx1.example.test '*.mail.example.test' '*.example.test' \
    example.test '*.fleet.test' fleet.test IP:127.0.0.1 "${sans[@]}" >/dev/null ||
    die "certificate generation failed"

  local fifo="$dir/ready.fifo" rfd pid line="" waited=0
  local limit=$(( ${FLEET_READY_TIMEOUT:-30} * 10 ))
  rm -f "$fifo"
  mkfifo "$fifo"
  # Open read-write so neither side blocks on open; poll in 0.1 s steps so a fleet that dies
  # before it is ready is noticed at once.
  exec {rfd}<>"$fifo"
  local t0
  t0=$(date +%s%N)
  "$FLEET" "${confs[@]}" --certs "$dir/certs" --manifest "$dir/manifest.jsonl" \
    --zone "$dir/fleet.zone" --zone-origin "${FLEET_ORIGIN:-fleet.test}" --ready-fd 3 "${extra[@]}" \
    3>"$fifo" </dev/null >"$dir/fleet.log" 2>&1 &
  pid=$!
  echo "$pid" > "$dir/fleet.pid"
  while :; do
    if read -r -t 0.1 -u "$rfd" line && [ "$line" = ready ]; then break; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      exec {rfd}<&-
      rm -f "$fifo" "$dir/fleet.pid"
      wait "$pid" 2>/dev/null || true
      sed 's/^/fleet.sh: /' "$dir/fleet.log" >&2
      die "mxfleet exited before it was ready (log: $dir/fleet.log)"
    fi
    waited=$((waited + 1))
    if [ $waited -ge $limit ]; then
      exec {rfd}<&-
      kill -TERM "$pid" 2>/dev/null || true
      rm -f "$fifo"
      die "mxfleet not ready after ${FLEET_READY_TIMEOUT:-30} s (log: $dir/fleet.log)"
    fi
  done
  echo $(( ($(date +%s%N) - t0) / 1000000 )) > "$dir/startup_ms"
  exec {rfd}<&-
  rm -f "$fifo"
  echo "fleet.sh: mxfleet pid $pid ready in $(cat "$dir/startup_ms") ms: $(wc -l < "$dir/manifest.jsonl") address:port pairs, manifest $dir/manifest.jsonl, zone $dir/fleet.zone" >&2
}

cmd_stop() {
  [ $# -eq 1 ] || usage
  local dir=$1 pid i
  [ -f "$dir/fleet.pid" ] || { echo "fleet.sh: no fleet.pid in $dir: nothing to stop" >&2; return 0; }
  pid=$(cat "$dir/fleet.pid")
  if pid_alive "$pid"; then
    kill -TERM "$pid"
    for i in $(seq 100); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      echo "fleet.sh: mxfleet $pid ignored TERM for 10 s, killing" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$dir/fleet.pid"
}

[ $# -ge 1 ] || usage
cmd=$1; shift
case "$cmd" in
  start) cmd_start "$@" ;;
  stop) cmd_stop "$@" ;;
  *) usage ;;
esac
