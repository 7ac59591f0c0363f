#!/usr/bin/env bash
# mx.t: mx_resolve (domain -> MX -> A/AAAA) against a real authoritative server (knot) on loopback.
#
# Writes the zone that test_mx_live expects (`test_mx_live --zone`: MX sorted, MX -> CNAME, null
# MX "0 .", no MX + A, no MX and no A, MX host without address, absent names, 2,000 domains on
# 20 exchanges), serves it with scripts/dns.sh on a free 127.0.x.53 address, then runs the
# test_mx_live TAP program with MXSCAN_TEST_DNS=IP:port. knotd is stopped (by its pid, through
# dns.sh stop) on exit.
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
prog=$build/tests/unit/test_mx_live
[ -x "$prog" ] || { echo "1..0 # SKIP $prog not built (run make)"; exit 0; }
command -v knotd >/dev/null || { echo "1..0 # SKIP knotd not installed (scripts/deps.sh)"; exit 0; }
command -v dig >/dev/null || { echo "1..0 # SKIP dig not installed (scripts/deps.sh)"; exit 0; }

dir=$(mktemp -d /tmp/mxscan-mx.XXXXXX) || exit 1
cleanup() {
  scripts/dns.sh stop "$dir" >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT
bail() { echo "Bail out! $*"; exit 1; }

"$prog" --zone > "$dir/mx.test.zone" || bail "test_mx_live --zone failed"

# A free address: nothing bound to 127.0.x.53 port 5353 (UDP or TCP), tried from a random start.
port=5353
ip=""
start=$((RANDOM % 200 + 20))
for i in $(seq 0 199); do
  x=$(( (start + i) % 220 + 20 ))
  cand=127.0.$x.53
  if ! ss -Hlnu 2>/dev/null | grep -q "$cand:$port " && ! ss -Hlnt 2>/dev/null | grep -q "$cand:$port "; then
    ip=$cand
    break
  fi
done
[ -n "$ip" ] || bail "no free 127.0.x.53:$port"

scripts/dns.sh start "$dir" "$dir/mx.test.zone" --listen "$ip@$port" 2>"$dir/dns.err" \
  || bail "scripts/dns.sh start failed: $(tail -n 5 "$dir/dns.err" | tr '\n' ' ')"

MXSCAN_TEST_DNS="$ip:$port" "$prog"
