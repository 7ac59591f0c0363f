#!/usr/bin/env bash
# The demo scan: start the simulated fleet and its DNS on loopback, scan the
# demo domains (mxscan resolves their MX through the local DNS), write records and a summary,
# check the records against the fleet's ground truth, diagnose three domains
# (mxscan diagnose), and stop everything it
# started (also on Ctrl-C). Called by `make demo` (which installs packages and
# builds first). Output in out/demo/ (or $DEMO_OUT).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
OUT=${DEMO_OUT:-out/demo}
DNS_IP=127.0.0.53 DNS_PORT=5353
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3

rm -rf "$OUT"; mkdir -p "$OUT"; chmod 755 "$OUT"
cleanup() {
  scripts/dns.sh stop "$OUT/dns" >/dev/null 2>&1 || true
  scripts/fleet.sh stop "$OUT/fleet" >/dev/null 2>&1 || true
}
trap cleanup EXIT
trap 'echo "demo: interrupted" >&2; exit 130' INT TERM

echo "== starting the simulated fleet (datasets/fleet/demo.conf) and its DNS"
scripts/fleet.sh start "$OUT/fleet" datasets/fleet/demo.conf
scripts/dns.sh start "$OUT/dns" "$OUT/fleet/fleet.zone" --listen "$DNS_IP@$DNS_PORT"

echo "== the demo domains (their MX records are resolved by mxscan through the local DNS)"
"$PY" -c 'import json,sys
seen=set()
for l in open(sys.argv[1]):
    for d in json.loads(l)["domains"]:
        if d not in seen: seen.add(d); print(d)' "$OUT/fleet/manifest.jsonl" | sort > "$OUT/domains.txt"
# the DNS situations of the zone, recorded as data: null MX, MX host without address, no MX but an A
printf '%s\n' nullmx.fleet.test noaddr.fleet.test amx.fleet.test >> "$OUT/domains.txt"
# submission and implicit-TLS ports are not in MX records: the provider publishes them (RFC 6186)
"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l)
    if m["port"] != 25 and m["names"]: print(m["ip"] + "," + m["names"][0] + ",," + str(m["port"]))' \
  "$OUT/fleet/manifest.jsonl" > "$OUT/extra-ports.csv"
cat "$OUT/domains.txt" "$OUT/extra-ports.csv" > "$OUT/targets.txt"
echo "   $(wc -l < "$OUT/domains.txt") domains, $(wc -l < "$OUT/extra-ports.csv") extra host:port targets"

echo "== scanning"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --resolver "$DNS_IP:$DNS_PORT" --progress \
  --ca-file "$OUT/fleet/certs/ca.pem" \
  --banner-timeout 10 --timeout 10 --tls-timeout 10 \
  -i "$OUT/targets.txt" -o "$OUT/records.ndjson.gz"

echo "== summary ($OUT/summary.txt)"
"$BIN/mxreport" summary "$OUT/records.ndjson.gz" | tee "$OUT/summary.txt"
"$BIN/mxreport" html "$OUT/records.ndjson.gz" -o "$OUT/report.html"

echo "== mxscan diagnose: a healthy, a degraded and a broken domain ($OUT/diagnose-*.txt)"
for d in shop1.fleet.test site10.fleet.test odd1.fleet.test; do
  rc=0
  "$BIN/mxscan" diagnose --allowlist 127.0.0.0/8 --resolver "$DNS_IP:$DNS_PORT" --ca-file "$OUT/fleet/certs/ca.pem" \
    "$d" > "$OUT/diagnose-$d.txt" 2>&1 || rc=$?
  echo "   $d: exit $rc, $(grep -o '\[[a-z0-9-]*\]' "$OUT/diagnose-$d.txt" | sort -u | tr '\n' ' ')$(tail -1 "$OUT/diagnose-$d.txt")"
done

echo "== checks"
status=0
scripts/validate-records "$OUT/records.ndjson.gz"
if "$PY" tests/integration/lib/check_manifest.py "$OUT/fleet/manifest.jsonl" "$OUT/records.ndjson.gz" "$BIN/mxscan" > "$OUT/groundtruth.tap"; then
  echo "ground truth: every host matches the fleet manifest ($(grep -c '^ok' "$OUT/groundtruth.tap") checks)"
else
  echo "ground truth: $(grep -c '^not ok' "$OUT/groundtruth.tap") mismatches, see $OUT/groundtruth.tap"
  status=1
fi
echo "records: $OUT/records.ndjson.gz   summary: $OUT/summary.txt   report: $OUT/report.html"
exit $status
