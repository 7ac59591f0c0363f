#!/usr/bin/env bash
# The blocklist holds before every connect, whatever points at a blocked address: scanned with
# --capture lo while an independent tcpdump on lo records every TCP packet of 127.35.0.0/16.
# The fleet listens on 127.35.1.1 (allowed), 127.35.2.1 (blocked: loopback stays in the
# default blocklist, only 127.35.1.0/24 and 127.35.3.0/24 are allowed) and 127.35.3.1 (allowed,
# but in an --optout file, which wins over the allow-list). The input names the blocked
# addresses directly (IPv4, IPv4 with a port, IPv4-mapped IPv6), as mail domains whose MX
# point at them (a local knot on 127.35.0.53:5353), and as a zdns line. Checks: not one packet
# to 127.35.2.0/24 or 127.35.3.0/24; packets to 127.35.1.1 were seen (the capture works); each
# blocked target said so on stderr; domain records list blocked MX addresses as null hosts;
# mxscan's own capture followed the allowed host's connection.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (packet capture)"; exit 0; fi
for tool in knotd tcpdump; do
  command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed (scripts/deps.sh)"; exit 0; }
done
T=$(mktemp -d /tmp/mxscan-blcap.XXXXXX); chmod 755 "$T"
TD=""
cleanup() {
  [ -n "$TD" ] && kill "$TD" 2>/dev/null
  scripts/dns.sh stop "$T/dns" >/dev/null 2>&1
  scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..9"

cat > "$T/b.conf" <<CONF
include $PWD/datasets/fleet/personalities.conf
assign 127.35.1.1 modern name=mx1.b.test
assign 127.35.2.1 modern name=mx2.b.test
assign 127.35.3.1 modern name=mx3.b.test
CONF
MXFLEET="$BIN/mxfleet" FLEET_ORIGIN=b.test scripts/fleet.sh start "$T/fleet" "$T/b.conf" >"$T/fleet.err" 2>&1
t $? "fleet on 127.35.1.1, 127.35.2.1, 127.35.3.1"
cat > "$T/b.zone" <<'ZONE'
$ORIGIN b.test.
$TTL 300
@ IN SOA ns1.b.test. h.b.test. 1 3600 600 86400 300
@ IN NS ns1.b.test.
ns1 IN A 127.35.0.53
mx1 IN A 127.35.1.1
mx2 IN A 127.35.2.1
mx3 IN A 127.35.3.1
ok IN MX 10 mx1.b.test.
bad IN MX 10 mx2.b.test.
mixed IN MX 10 mx1.b.test.
mixed IN MX 20 mx2.b.test.
mixed IN MX 30 mx3.b.test.
implicit IN A 127.35.2.1
ZONE
scripts/dns.sh start "$T/dns" "$T/b.zone" --listen "127.35.0.53@5353" >"$T/dns.err" 2>&1
t $? "knot on 127.35.0.53:5353 with MX pointing at blocked addresses"

echo "127.35.3.0/24   # opted out by its operator" > "$T/optout.txt"
cat > "$T/in.txt" <<'IN'
127.35.1.1
127.35.2.1
127.35.2.1:25
[::ffff:127.35.2.1]:25
127.35.3.1
ok.b.test
bad.b.test
mixed.b.test
implicit.b.test
{"name":"zd.b.test","status":"NOERROR","data":{"exchanges":[{"name":"mx2.b.test","preference":10,"ipv4_addresses":["127.35.2.1"]}]}}
IN

# an independent observer: every TCP packet of 127.35.0.0/16 on lo
tcpdump -i lo -n -U -w "$T/all.pcap" "tcp and net 127.35.0.0/16" 2>"$T/tcpdump.err" &
TD=$!
for _ in $(seq 200); do grep -q "listening on" "$T/tcpdump.err" && break; sleep 0.1; done
sleep 0.3
"$BIN/mxscan" --capture lo --allowlist 127.35.1.0/24 --allowlist 127.35.3.0/24 --optout "$T/optout.txt" \
  --resolver 127.35.0.53:5353 --enum quick --no-handshake --banner-timeout 5 \
  -i "$T/in.txt" -o "$T/rec.json" 2>"$T/scan.err"
echo "rc=$?" >> "$T/scan.err"
sleep 0.5
kill "$TD" 2>/dev/null; wait "$TD" 2>/dev/null; TD=""
tcpdump -n -r "$T/all.pcap" 2>/dev/null > "$T/all.txt"

grep -q "^rc=0$" "$T/scan.err"
t $? "scan ran (exit 0)"
! grep -Eq '> 127\.35\.(2|3)\.[0-9]+\.' "$T/all.txt" && ! grep -Eq '127\.35\.(2|3)\.[0-9]+\.[0-9]+ >' "$T/all.txt"
t $? "tcpdump: not one packet to or from the blocked and opted-out addresses"
grep -Eq '> 127\.35\.1\.1\.25: Flags' "$T/all.txt"
r=$?; t $r "tcpdump: the allowed address was scanned (the observer sees it)"
[ $r = 0 ] || { wc -l < "$T/all.txt"; head -5 "$T/all.txt"; cat "$T/tcpdump.err"; } | sed 's/^/# /'
[ "$(grep -c 'not scanned' "$T/scan.err")" -ge 4 ] && grep -q "127.35.3.1 not scanned: .*opted out" "$T/scan.err"
t $? "each blocked target is reported on stderr; the opt-out names its reason"
"$PY" - "$T" > "$T/py.out" 2>&1 <<'PYEOF'
import json, sys
t = sys.argv[1]
recs = [json.loads(l) for l in open(f"{t}/rec.json")]
hosts = [r for r in recs if r["type"] == "host"]
doms = {r["domain"]: r for r in recs if r["type"] == "domain"}
bad = []
ips = sorted({h["ip"] for h in hosts})
if ips != ["127.35.1.1"]:
    bad.append(f"host records for {ips}, want only 127.35.1.1")
h = [x for x in hosts if x["ip"] == "127.35.1.1"][0]
cap = h.get("capture", {})
if cap.get("verdict") != "no-reset" or "syn_ack" not in cap:
    bad.append(f"mxscan's capture of the allowed host: {cap}")
def mxhosts(d):
    return [(m["name"], m.get("hosts")) for m in doms[d]["mx"]]
for d in ("bad.b.test", "zd.b.test", "implicit.b.test"):
    if d not in doms or any(hs != [None] for _, hs in mxhosts(d)):
        bad.append(f"{d}: {mxhosts(d) if d in doms else 'no record'}")
m = dict(mxhosts("mixed.b.test"))
if m.get("mx1.b.test") != ["127.35.1.1:25"] or m.get("mx2.b.test") != [None] or m.get("mx3.b.test") != [None]:
    bad.append(f"mixed.b.test: {m}")
print("\n".join(bad) if bad else "ok")
sys.exit(1 if bad else 0)
PYEOF
t $? "records: one host (the allowed one) with mxscan's capture on it; blocked MX listed as null hosts"
sed 's/^/# /' "$T/py.out" | grep -v "^# ok$"
scripts/validate-records "$T/rec.json" >/dev/null 2>&1
t $? "records validate against the schema"
grep -q '"capture"' "$T/rec.json" && "$PY" -c "
import json,sys
s=[json.loads(l) for l in open('$T/rec.json')]
e=[r for r in s if r['type']=='scan'][-1]
sys.exit(0 if e.get('capture',{}).get('packets',0) > 0 else 1)"
t $? "the end scan record counts captured packets"
