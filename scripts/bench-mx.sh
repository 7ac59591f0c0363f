#!/usr/bin/env bash
# bench-mx.sh [COUNT] [INFLIGHT...]: throughput of scanner/mx.c (domain -> MX -> A/AAAA) against knot.
#
# Generates with awk a zone of COUNT domains (default 100,000): d<i>.bench.test MX 10
# mx<i%50>.bench.test, plus the 50 exchanges' A records. Serves it with scripts/dns.sh on a free
# 127.0.x.53:5353, builds tests/bench/bench_mx.c with cc, and resolves every domain once per
# INFLIGHT value (default: 100 200): domains/s, queries, answers, retries, lost (must be 0) and
# the in-flight setting. knotd is stopped by its pid (dns.sh stop) on exit. Exits 1 if a lookup
# was lost or a domain came back wrong. BENCH_MX_DNS=IP serves the zone on that address instead
# of a free one picked in 127.0.20-239.53 (for runs that must stay in a given loopback range).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
shift || true
inflight=("$@")
[ ${#inflight[@]} -gt 0 ] || inflight=(100 200)
command -v knotd >/dev/null || { echo "bench-mx.sh: knotd not found (scripts/deps.sh)" >&2; exit 2; }

out=build/bench-mx
mkdir -p "$out"
dir=$(mktemp -d /tmp/mxscan-bench-mx.XXXXXX)
cleanup() { scripts/dns.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap cleanup EXIT

awk -v n="$count" 'BEGIN {
  print "$ORIGIN bench.test."; print "$TTL 300"
  print "@ IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
  print "@ IN NS ns1.bench.test."; print "ns1 IN A 127.0.0.53"
  for (k = 0; k < 50; k++) printf "mx%d IN A 127.0.%d.%d\n", k, 10 + int(k / 200), k % 200 + 1
  for (i = 0; i < n; i++) printf "d%d IN MX 10 mx%d.bench.test.\n", i, i % 50
}' > "$dir/bench.test.zone"

port=5353
ip=${BENCH_MX_DNS:-}
start=$((RANDOM % 200 + 20))
for i in $(seq 0 199); do
  [ -z "$ip" ] || break
  cand=127.0.$(( (start + i) % 220 + 20 )).53
  if ! ss -Hlnu 2>/dev/null | grep -q "$cand:$port " && ! ss -Hlnt 2>/dev/null | grep -q "$cand:$port "; then
    ip=$cand
    break
  fi
done
[ -n "$ip" ] || { echo "bench-mx.sh: no free 127.0.x.53:$port" >&2; exit 2; }

${CC:-cc} -std=c17 -O2 -Wall -Wextra -D_GNU_SOURCE -Iinclude tests/bench/bench_mx.c scanner/mx.c scanner/resolve.c scanner/target.c \
  -o "$out/bench_mx" $(pkg-config --cflags --libs libcares)
scripts/dns.sh start "$dir" "$dir/bench.test.zone" --listen "$ip@$port" 2> "$dir/dns.err" \
  || { cat "$dir/dns.err" >&2; exit 2; }
echo "bench-mx: knot $(knotd --version 2>/dev/null | head -n 1 | awk '{print $NF}') on $ip:$port, $(nproc) CPU(s), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
echo "bench-mx: zone of $count domains on 50 exchanges; A and AAAA asked; timeout 2 s x 2 tries"
"$out/bench_mx" "$ip:$port" "$count" bench.test "${inflight[@]}"
