#!/usr/bin/env bash
# Enumeration benchmark: mxscan --enum full and nmap's ssl-enum-ciphers on the
# same 240 simulated mail servers (datasets/fleet/bench.conf) in the same run.
# Prints each tool's wall time, CPU time and TCP connections per host (counted
# by the fleet, which logs every accepted connection), and the ratios. Prints
# figures; asserts nothing about time. Loopback only; stops what it starts.
#
#   scripts/bench-enum.sh [HOSTS]     (default all 240)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
HOSTS=${1:-240}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
command -v nmap >/dev/null || { echo "bench-enum: nmap is not installed (scripts/deps.sh)" >&2; exit 1; }
T=$(mktemp -d /tmp/mxscan-benum.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
scripts/fleet.sh start "$T/fleet" datasets/fleet/bench.conf -- -v >/dev/null
"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l); print(m["ip"])' "$T/fleet/manifest.jsonl" | head -n "$HOSTS" > "$T/ips.txt"
n=$(wc -l < "$T/ips.txt")
accepted() { grep -c 'accepted (' "$T/fleet/fleet.log" || true; }
now_ms() { date +%s%3N; }

a0=$(accepted); t0=$(now_ms)
/usr/bin/time -f '%e %U %S %M' -o "$T/mx.time" "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum full \
  -c 240 -i <(sed 's/$/:25/' "$T/ips.txt") -o "$T/mx.ndjson.gz"
t1=$(now_ms); a1=$(accepted)

printf 'smtp\t25/tcp\t0.5\n' > "$T/services"
/usr/bin/time -f '%e %U %S %M' -o "$T/nmap.time" nmap -Pn -n --servicedb "$T/services" \
  --script ssl-enum-ciphers -iL "$T/ips.txt" -oX "$T/nmap.xml" >/dev/null 2>&1
t2=$(now_ms); a2=$(accepted)

read -r _ mu ms mrss < "$T/mx.time"; read -r _ nu ns nrss < "$T/nmap.time"
mxw=$((t1 - t0)); nmw=$((t2 - t1)); mxc=$((a1 - a0)); nmc=$((a2 - a1))
ok_hosts=$(zcat "$T/mx.ndjson.gz" | grep -c '"least_grade"' || true)
nm_hosts=$(grep -c '<script id="ssl-enum-ciphers"' "$T/nmap.xml" || true)
"$PY" - "$n" "$mxw" "$nmw" "$mxc" "$nmc" "$mu" "$ms" "$nu" "$ns" "$mrss" "$nrss" "$ok_hosts" "$nm_hosts" <<'PYEOF'
import sys
n, mxw, nmw, mxc, nmc = map(int, sys.argv[1:6])
mu, ms, nu, ns = map(float, sys.argv[6:10])
mrss, nrss, okh, nmh = map(int, sys.argv[10:14])
print(f"hosts:        {n} simulated mail servers (STARTTLS on port 25)")
print(f"mxscan:       {mxw} ms wall, {mu + ms:.2f} s CPU, {mxc} connections = {mxc / n:.1f} per host, "
      f"{mrss} kB peak RSS, {okh} hosts enumerated")
print(f"nmap:         {nmw} ms wall, {nu + ns:.2f} s CPU, {nmc} connections = {nmc / n:.1f} per host, "
      f"{nrss} kB peak RSS, {nmh} hosts enumerated")
print(f"ratio:        nmap/mxscan wall time {nmw / max(mxw, 1):.1f}x, connections per host {nmc / max(mxc, 1):.2f}x, "
      f"CPU {(nu + ns) / max(mu + ms, 0.01):.1f}x")
PYEOF
