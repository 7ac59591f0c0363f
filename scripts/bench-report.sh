#!/usr/bin/env bash
# bench-report.sh [RECORDS] [SOURCE]: mxreport throughput and memory on a large input.
#
# Builds an input of RECORDS host records (default 1,000,000) by repeating the host and domain
# records of SOURCE (default out/demo/records.ndjson.gz, from `make demo`), each copy with its own
# address (10.x.y.z) so that diff sees distinct keys, written plain and gzip. Then times
# `summary`, `json`, `csv` and `diff` (the input against itself minus 1%) and prints records/s,
# MB/s and peak RSS of each; then `summary --by country` with --geoip/--asn-db (two small MaxMind
# DBs written by tests/integration/lib/mkmmdb.pl over 10.0.0.0/8: one lookup per host record).
# Prints figures only; asserts nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
SRC=${2:-out/demo/records.ndjson.gz}
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
[ -r "$SRC" ] || { echo "bench-report.sh: no $SRC (run make demo, or pass a records file)" >&2; exit 2; }
[ -x "$BIN/mxreport" ] || make "$BIN/mxreport" >/dev/null
W=$(mktemp -d /tmp/mxreport-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

"$PY" - "$SRC" "$N" "$W" <<'PYEOF'
import gzip, json, sys
src, n, w = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with open(src, "rb") as f:
    gz = f.read(2) == b"\x1f\x8b"
recs = [json.loads(l) for l in (gzip.open if gz else open)(src, "rt")]
hosts = [r for r in recs if r["type"] == "host" and "ip" in r]
doms = [r for r in recs if r["type"] == "domain"]
with open(f"{w}/big.ndjson", "w") as out, open(f"{w}/new.ndjson", "w") as out2:
    for i in range(n):
        h = dict(hosts[i % len(hosts)])
        h["ip"] = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        h.pop("geo", None)  # the copies are elsewhere: --geoip below looks them up
        line = json.dumps(h, separators=(",", ":")) + "\n"
        out.write(line)
        if i % 100:
            out2.write(line)
        if doms and i % 4 == 0:
            d = dict(doms[(i // 4) % len(doms)])
            d["domain"] = f"d{i}.example"
            line = json.dumps(d, separators=(",", ":")) + "\n"
            out.write(line)
            out2.write(line)
PYEOF
gzip -1 -c "$W/big.ndjson" > "$W/big.ndjson.gz"
lines=$(wc -l < "$W/big.ndjson")
mb=$(( $(stat -c %s "$W/big.ndjson") / 1048576 ))
echo "input: $lines records ($N host records, $((lines - N)) domain records), $mb MiB plain, $(( $(stat -c %s "$W/big.ndjson.gz") / 1048576 )) MiB gzip"

run() { # name records mib cmd...
  local name=$1 recs=$2 mb=$3; shift 3
  /usr/bin/time -f "%e %M" -o "$W/t" "$@" > /dev/null
  read -r secs kb < "$W/t"
  "$PY" -c 'import sys; n,s,kb,mb=int(sys.argv[2]),float(sys.argv[3]),int(sys.argv[4]),int(sys.argv[5])
print(f"{sys.argv[1]:<28} {s:6.2f} s  {n/max(s,1e-3):>10,.0f} records/s  {mb/max(s,1e-3):7.1f} MiB/s  peak RSS {kb/1024:6.1f} MiB")' \
    "$name" "$recs" "$secs" "$kb" "$mb"
}
run "summary (plain)" "$lines" "$mb" "$BIN/mxreport" summary "$W/big.ndjson"
run "summary (gzip)" "$lines" "$mb" "$BIN/mxreport" summary "$W/big.ndjson.gz"
run "summary --by provider" "$lines" "$mb" "$BIN/mxreport" summary --by provider "$W/big.ndjson"
run "json (plain)" "$lines" "$mb" "$BIN/mxreport" json "$W/big.ndjson"
run "csv (plain)" "$lines" "$mb" "$BIN/mxreport" csv "$W/big.ndjson"
run "diff (plain, 2 inputs)" "$((lines * 2))" "$((mb * 2))" "$BIN/mxreport" diff "$W/big.ndjson" "$W/new.ndjson"
nets=()
for a in $(seq 0 15); do nets+=("10.$((a * 16)).0.0/12=X$(printf %X $a),$((64512 + a)),Bench AS $a"); done
perl tests/integration/lib/mkmmdb.pl "$W/geo.mmdb" combined "${nets[@]}"
run "summary --by country --geoip" "$lines" "$mb" "$BIN/mxreport" summary --by country --geoip "$W/geo.mmdb" "$W/big.ndjson"
