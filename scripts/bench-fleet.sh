#!/usr/bin/env bash
# Benchmark of the simulated fleet at scale: starts datasets/fleet/large.conf (2,560 addresses x
# ports 25 + 465 = 5,120 listening sockets, or the CONF given), prints the start-up time (exec to
# "ready"), the fleet's RSS and descriptor count, checks that a sample of addresses answer (banner
# on 25, a TLS handshake on 465), prints the sample's rate, and stops the fleet. Prints figures,
# asserts nothing about time; exits non-zero only when the fleet does not start or does not answer.
#
#   scripts/bench-fleet.sh [CONF] [SAMPLE]      (SAMPLE banners, default 500)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CONF=${1:-$ROOT/datasets/fleet/large.conf}
SAMPLE=${2:-500}
DIR=$(mktemp -d /tmp/bench-fleet.XXXXXX)
trap '"$ROOT/scripts/fleet.sh" stop "$DIR" >/dev/null 2>&1 || true; rm -rf "$DIR"' EXIT

"$ROOT/scripts/fleet.sh" start "$DIR" "$CONF" 2>/dev/null || {
  cat "$DIR/fleet.log" >&2; echo "bench-fleet: the fleet did not start" >&2; exit 1; }
pid=$(cat "$DIR/fleet.pid")
mem() { awk '/^VmRSS/{print $2" "$3}' "/proc/$pid/status"; }
nfd() { find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }
pairs=$(wc -l < "$DIR/manifest.jsonl")
addrs=$(grep -o '"ip":"[^"]*"' "$DIR/manifest.jsonl" | sort -u | wc -l)
echo "fleet:      $addrs addresses, $pairs address:port pairs ($CONF)"
echo "start-up:   $(cat "$DIR/startup_ms") ms from exec to ready (certificates made beforehand)"
echo "idle:       RSS $(mem), $(nfd) open fds"

# Banner sample: every k-th STARTTLS address:port of the manifest.
grep '"mode":"starttls"' "$DIR/manifest.jsonl" | grep -o '"ip":"[^"]*","port":[0-9]*' |
  sed 's/"ip":"\([^"]*\)","port":\([0-9]*\)/\1 \2/' > "$DIR/targets"
total=$(wc -l < "$DIR/targets")
step=$(( total / SAMPLE )); [ $step -ge 1 ] || step=1
awk -v s=$step 'NR % s == 1 || s == 1' "$DIR/targets" | head -n "$SAMPLE" > "$DIR/sample"
got=0 tried=0
t0=$(date +%s%N)
while read -r ip port; do
  tried=$((tried + 1))
  exec {fd}<>"/dev/tcp/$ip/$port" || continue
  line=""
  IFS= read -r -t 5 -u "$fd" line || true
  exec {fd}<&-
  case "$line" in 220*|421*|554*|"*"*) got=$((got + 1)) ;; esac
done < "$DIR/sample"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "banners:    $got of $tried sampled addresses greeted in $ms ms ($(( tried * 1000 / (ms > 0 ? ms : 1) )) connections/s, sequential)"

# TLS sample on implicit ports.
tls=0 ttried=0
for ip in $(grep '"mode":"implicit"' "$DIR/manifest.jsonl" | grep '"tls_reachable":true' | grep '"TLSv1.3":{"supported":true' |
            grep -o '"ip":"[^"]*"' | cut -d'"' -f4 | awk 'NR % 97 == 1' | head -n 10); do
  ttried=$((ttried + 1))
  echo | timeout 5 openssl s_client -connect "$ip:465" -brief 2>&1 | grep -q 'Protocol version: TLSv1.3' && tls=$((tls + 1))
done
echo "tls:        $tls of $ttried sampled implicit-TLS ports completed a TLS 1.3 handshake"
echo "after:      RSS $(mem), $(nfd) open fds"
[ "$got" -eq "$tried" ] && [ "$tls" -eq "$ttried" ] || { echo "bench-fleet: some sampled addresses did not answer" >&2; exit 1; }
