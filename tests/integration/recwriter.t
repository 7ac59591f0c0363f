#!/usr/bin/env bash
# The record writer thread: 4 worker threads hand records to one writer. Every
# host once, the scan start record first and its end record last, each
# certificate record once and before the first host record that refers to it
# (a host's records are one unit), members finished every record with
# --flush-records 1; an output that fails mid-scan (EFBIG) is exit 3; SIGINT
# writes every record handed over, then the end record (exit 6).
# Fleet on 127.37.0.0/16 (this test's own range).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-recwriter.XXXXXX); chmod 755 "$T"
SRV_PID=""
trap '[ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; wait 2>/dev/null; rm -rf "$T"' EXIT
cat > "$T/f.conf" <<CONF
include $PWD/datasets/fleet/personalities.conf
assign 127.37.1.1-127.37.1.120 modern name=mx{o}.one.w10.test
assign 127.37.2.1-127.37.2.40 modern-ecdsa name=mx{o}.two.w10.test
assign 127.37.3.1-127.37.3.20 modern-selfsigned name=mx{o}.three.w10.test
assign 127.37.4.1-127.37.4.20 no-tls name=mx{o}.four.w10.test
CONF
MXFLEET="${MXFLEET:-bin/mxfleet}" scripts/fleet.sh start "$T/fleet" "$T/f.conf" >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - fleet"; exit 0; }
echo "1..7"
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m=json.loads(l); print(m["ip"]+":"+str(m["port"]))' "$T/fleet/manifest.jsonl" > "$T/targets.txt"
n=$(wc -l < "$T/targets.txt")
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -t 4 -c 40 --flush-records 1 -i "$T/targets.txt" -o "$T/out.ndjson.gz" 2>"$T/err"
rc=$?
[ $rc = 0 ] && echo "ok 1 - scan with 4 threads exits 0" || { echo "not ok 1 - exit $rc"; sed 's/^/# /' "$T/err"; }
zcat "$T/out.ndjson.gz" > "$T/out.ndjson" 2>"$T/zerr" && echo "ok 2 - zcat reads it" || echo "not ok 2 - zcat: $(cat "$T/zerr")"
"$PY" - "$T/out.ndjson" "$T/targets.txt" > "$T/check" 2>&1 <<'PYEOF'
import json, sys, re
recs = [json.loads(l) for l in open(sys.argv[1])]
want = set(l.strip() for l in open(sys.argv[2]) if l.strip())
bad = []
if not (recs[0]["type"] == "scan" and recs[0].get("event") == "start"): bad.append("first is not scan start")
if not (recs[-1]["type"] == "scan" and recs[-1].get("event") == "end"): bad.append("last is not scan end")
hosts = [r["ip"] + ":" + str(r["port"]) for r in recs if r["type"] == "host"]
if len(hosts) != len(set(hosts)) or set(hosts) != want: bad.append("hosts: %d records, %d distinct, %d wanted" % (len(hosts), len(set(hosts)), len(want)))
seen = set(); ncert = 0
for line, r in zip(open(sys.argv[1]), recs):
    if r["type"] == "certificate":
        if r["sha256"] in seen: bad.append("certificate twice")
        seen.add(r["sha256"]); ncert += 1
    elif r["type"] == "host":
        for h in re.findall(r'"sha256":"([0-9a-f]{64})"', line):
            if h not in seen: bad.append("host %s:%s refers to %s before its certificate record" % (r["ip"], r["port"], h[:12]))
print("certificates %d hosts %d" % (ncert, len(hosts)))
print("\n".join(bad[:5]) if bad else "ok")
sys.exit(1 if bad or ncert == 0 else 0)
PYEOF
[ $? = 0 ] && echo "ok 3 - start first, end last, every host once, certificates once and before their hosts ($(head -1 "$T/check"))" || { echo "not ok 3 - record order"; sed 's/^/# /' "$T/check"; }
# --flush-records 1: one member per unit (a host and its new certificates)
m=$("$PY" -c 'import sys,zlib
d=open(sys.argv[1],"rb").read(); n=0
while d:
    o=zlib.decompressobj(31); o.decompress(d); d=o.unused_data; n+=1
print(n)' "$T/out.ndjson.gz")
h=$(grep -c '"type":"host"' "$T/out.ndjson")
[ "$m" -ge "$h" ] && [ "$m" -le $((h + 2)) ] && echo "ok 4 - $m members for $h hosts (+ scan records)" || echo "not ok 4 - $m members for $h hosts"
scripts/validate-records "$T/out.ndjson" > "$T/val" 2>&1 && echo "ok 5 - records valid against the schema" || { echo "not ok 5 - invalid records"; sed 's/^/# /' "$T/val" | head; }
# The output fails mid-scan, in the writer thread: a 16 KiB file size limit
# (SIGXFSZ ignored, so write() fails with EFBIG) after the first records.
( trap '' XFSZ; ulimit -f 16; exec "$BIN/mxscan" --allowlist 127.0.0.0/8 -q -t 4 -c 40 --flush-records 1 \
  -i "$T/targets.txt" -o "$T/small.ndjson" ) 2>"$T/err2"
rc=$?
k=$(grep -c . "$T/small.ndjson")
[ $rc = 3 ] && grep -q 'small.ndjson' "$T/err2" && [ "$k" -ge 2 ] && [ "$k" -lt "$n" ] \
  && echo "ok 6 - output failing mid-scan ($k records fitted): exit 3, output named" \
  || { echo "not ok 6 - exit $rc, $k records"; sed 's/^/# /' "$T/err2"; }
# SIGINT: the hosts in flight finish, everything handed to the writer is written, end record last.
coproc SRV { exec "$PY" tests/integration/lib/slowsmtp.py 127.37.8.1+20 2600-2609 1.5 60; }
SRV_PID=$SRV_PID
read -r -t 10 line <&"${SRV[0]}"
for a in $(seq 1 20); do for p in $(seq 2600 2609); do echo "127.37.8.$a:$p"; done; done > "$T/slow.txt"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -t 3 -c 6 --flush-records 1 -i "$T/slow.txt" -o "$T/int.ndjson.gz" 2>"$T/err3" &
SCAN=$!
for _ in $(seq 1 200); do
  [ "$(zcat "$T/int.ndjson.gz" 2>/dev/null | grep -c '"type":"host"')" -ge 4 ] && break
  sleep 0.05   # polling the output file, not waiting for a server
done
kill -INT $SCAN; wait $SCAN; rc=$?
r=$(zcat "$T/int.ndjson.gz" | "$PY" -c 'import json,sys
r=[json.loads(l) for l in sys.stdin]
h=sum(1 for x in r if x["type"]=="host")
print("ok" if r[-1].get("event")=="end" and r[-1].get("done")==h and 4<=h<200 else "bad", h)')
[ $rc = 6 ] && [ "${r%% *}" = ok ] && echo "ok 7 - SIGINT: exit 6, all ${r#* } finished hosts written, end record last" \
  || { echo "not ok 7 - SIGINT: exit $rc, $r"; sed 's/^/# /' "$T/err3"; }
