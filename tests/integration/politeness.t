#!/usr/bin/env bash
# Politeness against the fleet of datasets/fleet/polite.conf (127.30.x.x):
# retries with back-off after a 421 (greylisting-style servers that turn the
# first K connections away), the --retries cap, probes.retries and
# probes.connections in the records, the per-IP concurrency limit (a server
# allowing 2 sessions on 7 ports: no 421 from it with --per-ip 2, some
# without the limit), and the --rate / --per-ip-rate pacing (lower bounds on
# the time N connections take).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/mxscan-polite.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..17"
MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/polite.conf -- -v > "$T/fleet.out" 2>&1
t $? "polite fleet started"
MX=("$BIN/mxscan" --allowlist 127.0.0.0/8 -q)
host() { # FILE IP:PORT -> the host record
	"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "host" and "%s:%d" % (r["ip"], r["port"]) == sys.argv[2]: print(l.strip())' "$1" "$2"
}
field() { "$PY" -c 'import json,sys
r = json.loads(sys.stdin.read())
for k in sys.argv[1].split("."): r = r.get(k, {}) if isinstance(r, dict) else {}
print(r)' "$1"; }
refused() { grep -c "refused: $1" "$T/fleet/fleet.log"; }
ms() { date +%s%3N; }

# 421 to the first 2 connections: the third gets in
t0=$(ms)
"${MX[@]}" --enum quick --no-handshake --backoff 0.2 127.30.1.1:2525 > "$T/r1"; rc=$?
t1=$(ms)
h=$(host "$T/r1" 127.30.1.1:2525)
[ $rc = 0 ] && [ "$(field status <<<"$h")" = success ]; t $? "greylisting-style server (421 twice): success after retrying"
[ "$(field probes.connections <<<"$h")" = 3 ] && [ "$(field probes.retries <<<"$h")" = 2 ]
t $? "record: probes.connections 3, probes.retries 2"
[ $((t1 - t0)) -ge 600 ]; t $? "back-off 0.2 s then 0.4 s: the scan took $((t1 - t0)) ms (>= 600)"
[ "$(refused 'refuse_first')" = 2 ]; t $? "the fleet turned away exactly 2 connections"

# the cap: 5 refusals, 3 retries allowed -> the 421 is the result
"${MX[@]}" --enum quick --no-handshake --backoff 0.05 --retries 3 127.30.1.2:2525 > "$T/r2"
h=$(host "$T/r2" 127.30.1.2:2525)
[ "$(field failure.reason <<<"$h")" = smtp-421 ] && [ "$(field failure.stage <<<"$h")" = banner ]
t $? "--retries 3 against 5 refusals: failure banner smtp-421"
[ "$(field probes.connections <<<"$h")" = 4 ] && [ "$(field probes.retries <<<"$h")" = 3 ]; t $? "record: 4 connections, 3 retries"
"${MX[@]}" --enum quick --no-handshake --retries 0 127.30.1.5:2525 > "$T/r3"
h=$(host "$T/r3" 127.30.1.5:2525)
[ "$(field failure.reason <<<"$h")" = smtp-421 ] && [ "$(field probes.connections <<<"$h")" = 1 ] &&
	[ "$(field probes.retries <<<"$h")" = 0 ]; t $? "--retries 0: no retry, one connection"

# full enumeration behind a greylisting-style banner, every connection traced
"${MX[@]}" --backoff 0.05 --trace-probes 127.30.1.6:2525 > "$T/r4"
scripts/validate-records "$T/r4" > /dev/null 2>&1; t $? "records validate against the schema (probes.retries)"
host "$T/r4" 127.30.1.6:2525 | "$PY" -c 'import json,sys
r = json.loads(sys.stdin.read()); p = r["probes"]
ok = (r["status"] == "success" and p["retries"] == 2 and len(p["trace"]) == p["connections"]
      and r["tls"]["versions"]["TLSv1.3"]["supported"] and r["smtp"]["banner"].startswith("220 "))
sys.exit(0 if ok else 1)'
t $? "full enumeration after 2 refusals: success, the dialogue of the attempt that got in, one trace entry per connection"

# per-IP concurrency: 7 ports of one address that allows 2 sessions
for p in 2525 2526 2527 2528 2529 2530 2531; do echo "127.30.1.3:$p"; done > "$T/lim"
a=$(refused max_concurrent)
"${MX[@]}" --enum full --no-handshake -c 50 -i "$T/lim" > "$T/r5"
b=$(refused max_concurrent)
[ "$(grep -c '"status":"success"' "$T/r5")" = 7 ]; t $? "--per-ip 2 (default): 7 ports of one address all succeed"
[ $((b - a)) = 0 ] && ! grep -q '"retries":[1-9]' "$T/r5"
t $? "--per-ip 2: the server never saw a third session ($((b - a)) refusals, no retries)"
"${MX[@]}" --enum full --no-handshake -c 50 --per-ip 0 --backoff 0.05 -i "$T/lim" > "$T/r6"
c=$(refused max_concurrent)
[ $((c - b)) -gt 0 ]; t $? "--per-ip 0 (no limit): the same scan exceeds the server's limit ($((c - b)) refusals)"

# pacing: 40 connections at --rate 20 (one thread) take at least 1.95 s; 7 to one IP at 5/s at least 1.2 s
for a in $(seq 1 40); do echo "127.30.2.$a:2525"; done > "$T/plain"
t0=$(ms)
"${MX[@]}" --enum quick --no-handshake --rate 20 -t 1 -i "$T/plain" > "$T/r7"
t1=$(ms)
[ "$(grep -c '"status":"success"' "$T/r7")" = 40 ] && [ $((t1 - t0)) -ge 1900 ]
t $? "--rate 20: 40 hosts in $((t1 - t0)) ms (>= 1900)"
t0=$(ms)
"${MX[@]}" --enum quick --no-handshake --per-ip 0 --per-ip-rate 5 -i "$T/lim" > "$T/r8"
t1=$(ms)
[ "$(grep -c '"status":"success"' "$T/r8")" = 7 ] && [ $((t1 - t0)) -ge 1150 ]
t $? "--per-ip-rate 5: 7 ports of one address in $((t1 - t0)) ms (>= 1150)"
"$BIN/mxscan" --rate -3 127.30.1.1 >/dev/null 2>&1; [ $? = 1 ]; t $? "a negative --rate is refused"

# interrupted while pacing: hosts still waiting for their first connection are
# not scanned (no record), those under way finish; exit 6
"${MX[@]}" --enum quick --no-handshake --rate 10 -i "$T/plain" > "$T/r9" &
pid=$!
sleep 1.5 # let about 15 connections through, then interrupt
kill -INT $pid; wait $pid; rc=$?
k=$(grep -c '"type":"host"' "$T/r9")
[ $rc = 6 ] && [ "$k" -ge 5 ] && [ "$k" -le 30 ]; t $? "SIGINT at --rate 10 after 1.5 s: exit $rc, $k of 40 hosts scanned, the waiting ones dropped"
