#!/usr/bin/env bash
# resolve.t: resolve_targets against a real authoritative server (knot) on loopback.
#
# Writes the zone that test_resolve expects (`test_resolve --zone`), serves it with knotd on a
# random 127.53.x.y address (scripts/dns.sh when present, else a minimal knotd config written
# here, per RECIPES.md section 4), then runs the test_resolve TAP program with
# MXSCAN_TEST_DNS=IP:port so that its real-DNS part runs. The server is stopped on exit.
# Build tree: $MXSCAN_BUILD, else the parent of $BIN when BIN ends in /bin (make asan), else build.
set -u
cd "$(dirname "$0")/../.." || exit 1

if [ -n "${MXSCAN_BUILD:-}" ]; then
  build=$MXSCAN_BUILD
elif [ -n "${BIN:-}" ] && [ "${BIN%/bin}" != "$BIN" ]; then
  build=${BIN%/bin}
else
  build=build
fi
prog=$build/tests/unit/test_resolve
[ -x "$prog" ] || { echo "1..0 # SKIP $prog not built (run make)"; exit 0; }
command -v knotd >/dev/null || { echo "1..0 # SKIP knotd not installed (scripts/deps.sh)"; exit 0; }

dir=$(mktemp -d /tmp/mxscan-resolve.XXXXXX) || exit 1
ip=127.53.$((RANDOM % 200 + 20)).$((RANDOM % 250 + 1))
port=5353
own_pid=""

cleanup() {
  if [ -n "$own_pid" ]; then
    kill "$own_pid" 2>/dev/null
    wait "$own_pid" 2>/dev/null
  elif [ -x scripts/dns.sh ]; then
    scripts/dns.sh stop "$dir" >/dev/null 2>&1
  fi
  rm -rf "$dir"
}
trap cleanup EXIT

bail() { echo "Bail out! $*"; exit 1; }

"$prog" --zone > "$dir/resolve.test.zone" || bail "test_resolve --zone failed"

if [ -x scripts/dns.sh ]; then
  scripts/dns.sh start "$dir" "$dir/resolve.test.zone" --listen "$ip@$port" 2>"$dir/dns.err" \
    || bail "scripts/dns.sh start failed: $(tail -n 5 "$dir/dns.err" | tr '\n' ' ')"
else
  mkdir -p "$dir/db"
  cat > "$dir/knot.conf" <<EOF
server:
    rundir: "$dir"
    user: root:root
    listen: $ip@$port
database:
    storage: "$dir/db"
log:
  - target: stderr
    any: info
zone:
  - domain: resolve.test.
    file: "$dir/resolve.test.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
EOF
  knotd -c "$dir/knot.conf" >"$dir/knotd.log" 2>&1 &
  own_pid=$!
  # Ready when the SOA answers (bounded: 100 x 50 ms).
  for _ in $(seq 1 100); do
    kill -0 "$own_pid" 2>/dev/null || bail "knotd exited: $(tail -n 5 "$dir/knotd.log" | tr '\n' ' ')"
    if command -v dig >/dev/null; then
      dig @"$ip" -p "$port" +norec +time=1 +tries=1 +short SOA resolve.test 2>/dev/null | grep -q . && break
    elif grep -q "zone file loaded\|loaded, serial" "$dir/knotd.log"; then
      break
    fi
    sleep 0.05
  done
fi

MXSCAN_TEST_DNS="$ip:$port" "$prog"
