#!/usr/bin/env bash
# Benchmark of the scanner on loopback: starts the large simulated fleet
# (datasets/fleet/large.conf: 2,560 addresses x ports 25 + 465), scans every
# address:port once with mxscan (baseline probe: banner, EHLO, STARTTLS or
# implicit TLS, one ClientHello), and prints wall time, hosts/s, peak RSS and
# the status breakdown, with mxscan's own CPU time (on one machine the fleet,
# which completes real wolfSSL handshakes single-threaded, is usually the
# bottleneck: compare CPU seconds, not only wall time). Peer ratios (nmap,
# sslscan, testssl.sh) and the reference client: scripts/bench.sh.
# Prints figures; asserts nothing about time. Loopback only; stops what it starts.
#
#   scripts/bench-scan.sh [CONCURRENCY] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
CONC=${1:-500}
THREADS=${2:-$(nproc)}
T=$(mktemp -d /tmp/mxscan-bench.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
scripts/fleet.sh start "$T/fleet" datasets/fleet/large.conf >/dev/null
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l); print(m["ip"]+":"+str(m["port"]))' "$T/fleet/manifest.jsonl" > "$T/targets.txt"
n=$(wc -l < "$T/targets.txt")
start=$(date +%s%N)
/usr/bin/time -f '%M %e %U %S' -o "$T/time" "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --no-handshake -c "$CONC" -t "$THREADS" \
  -i "$T/targets.txt" -o "$T/records.ndjson.gz"
end=$(date +%s%N)
read -r rss wall user sys < "$T/time"
ms=$(( (end - start) / 1000000 ))
echo "mxscan:     $n hosts (address:port) in $ms ms = $(( n * 1000 / (ms > 0 ? ms : 1) )) hosts/s, concurrency $CONC, threads $THREADS"
echo "            peak RSS $rss kB, CPU user ${user}s sys ${sys}s"
zcat "$T/records.ndjson.gz" | "$PY" -c 'import json,sys,collections
c=collections.Counter(json.loads(l)["status"] for l in sys.stdin if "\"type\":\"host\"" in l)
print("            status: " + ", ".join(f"{k} {v}" for k,v in c.most_common()))'
