#!/usr/bin/env bash
# Cost of --capture: scans N fleet servers on loopback (127.27.0.0/16, port 2727;
# baseline probe only: banner, EHLO, STARTTLS, one ClientHello) twice, without and
# with --capture lo (after one warm-up scan), and prints wall time, mxscan's CPU, peak RSS, the capture's
# counters (packets parsed, matched to a tracked connection, kernel drops) and the
# verdict counts. Every host should be "no-reset" with a SYN-ACK seen: a host
# without one means the capture lost its packets. Needs root (capture).
# Prints figures; asserts nothing about time. Loopback only; stops what it starts.
#
#   scripts/bench-capture.sh [HOSTS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
N=${1:-1000}
CONC=${2:-200}
[ "$N" -ge 1 ] && [ "$N" -le 65000 ] || { echo "bench-capture.sh: HOSTS must be 1..65000" >&2; exit 2; }
T=$(mktemp -d /tmp/mxscan-bcap.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; [ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
last=$((N - 1))
{
  printf '[personality default]\nports = 2727\nbanner = {name} ESMTP bench\n'
  printf 'versions = TLSv1.2 TLSv1.3\nsuites = modern\ncert = valid\n[personality plain]\n'
  for i in $(seq 0 $last); do echo "assign 127.27.$((i / 250)).$((i % 250 + 1)) plain"; done
} > "$T/fleet.conf"
scripts/fleet.sh start "$T/fleet" "$T/fleet.conf" >/dev/null
for i in $(seq 0 $last); do echo "127.27.$((i / 250)).$((i % 250 + 1)):2727"; done > "$T/targets.txt"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

run() {
  local name=$1; shift
  local rss wall user sys
  /usr/bin/time -f '%M %e %U %S' -o "$T/$name.time" "$BIN/mxscan" --allowlist 127.27.0.0/16 -q --enum quick \
    --no-handshake -c "$CONC" "$@" -i "$T/targets.txt" -o "$T/$name.ndjson"
  read -r rss wall user sys < "$T/$name.time"
  echo "$name: $N hosts in ${wall} s wall, CPU user ${user}s sys ${sys}s, peak RSS $rss kB"
}
run warm-up >/dev/null # the fleet's first session per address costs more: not measured
run plain
run capture --capture lo
"$PY" - "$T/capture.ndjson" <<'EOF'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
hosts = [r for r in recs if r["type"] == "host"]
end = [r for r in recs if r["type"] == "scan"][-1]["capture"]
v = collections.Counter(h.get("capture", {}).get("verdict", "(none)") for h in hosts)
st = collections.Counter(h["status"] for h in hosts)
print("capture: packets %d, matched %d, flows %d, not tracked %d, kernel drops %d"
      % (end["packets"], end["matched"], end["flows"], end["flows_not_tracked"], end["kernel_drops"]))
print("verdicts: " + ", ".join(f"{k} {n}" for k, n in v.most_common()))
print("status: " + ", ".join(f"{k} {n}" for k, n in st.most_common()))
EOF
