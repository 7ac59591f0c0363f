#!/usr/bin/env bash
# SIGKILL during a scan of many targets leaves a gzip file that zcat reads to
# its last complete record, and every record in it is valid.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-kill.XXXXXX)
SRV_PID=""
cleanup() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
echo "1..5"
PY=$(command -v python3)
coproc SRV { exec "$PY" tests/integration/lib/slowsmtp.py 127.0.8.1+100 2600-2629 0.2 120; }
SRV_PID=$SRV_PID
read -r -t 10 line <&"${SRV[0]}"
[ "$line" = ready ] && echo "ok 1 - slow SMTP server ready" || echo "not ok 1 - slow SMTP server did not start"
# 3000 distinct targets: 100 addresses x 30 ports
for a in $(seq 1 100); do for p in $(seq 2600 2629); do echo "127.0.8.$a:$p"; done; done > "$T/targets.csv"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -c 20 --flush-records 25 --flush-secs 1 \
  -i "$T/targets.csv" -o "$T/out.ndjson.gz" 2>"$T/err" &
SCAN=$!
# wait until at least one member has been written, then kill -9
for _ in $(seq 1 100); do
  [ -s "$T/out.ndjson.gz" ] && [ "$(zcat "$T/out.ndjson.gz" 2>/dev/null | wc -l)" -ge 30 ] && break
  sleep 0.1   # polling the output file, not waiting for a server
done
kill -9 $SCAN 2>/dev/null; wait $SCAN 2>/dev/null
if zcat "$T/out.ndjson.gz" > "$T/out.ndjson" 2>"$T/zerr"; then echo "ok 2 - zcat reads the killed scan's file without error"; else echo "not ok 2 - zcat failed: $(cat "$T/zerr")"; fi
n=$(wc -l < "$T/out.ndjson")
[ "$n" -ge 25 ] && [ "$n" -lt 3001 ] && echo "ok 3 - partial file holds $n records" || echo "not ok 3 - unexpected record count $n"
tail -c 1 "$T/out.ndjson" | od -An -c | grep -q '\\n' && echo "ok 4 - last record is complete" || echo "not ok 4 - last record torn"
if scripts/validate-records "$T/out.ndjson" > "$T/val" 2>&1; then echo "ok 5 - every record valid against the schema"; else echo "not ok 5 - invalid records"; sed 's/^/# /' "$T/val" | head; fi
