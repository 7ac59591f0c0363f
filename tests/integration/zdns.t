#!/usr/bin/env bash
# zdns input: domains whose MX answers were resolved elsewhere, given as zdns JSON lines
# (mxlookup 1.x and 2.x shapes, the raw MX module, NXDOMAIN, null MX), mixed with a plain
# domain line, scanned on a small fleet of three servers on 127.26.1.1-3 (two with TLS, one
# without). Checks: every (IP, port) scanned once; host records list the MX names and domains
# of zdns lines; domain records carry dns.source "zdns", the MX set and addresses of the line
# and verdicts from their hosts; the MX module's exchanges and the plain domain are looked up on
# a local knot (127.26.0.53:5353); invalid lines are reported with their line number and counted;
# an input of mxlookup lines only asks no DNS at all (its resolver does not exist).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
command -v knotd >/dev/null || { echo "1..0 # SKIP knotd not installed (scripts/deps.sh)"; exit 0; }
T=$(mktemp -d /tmp/mxscan-zdns.XXXXXX); chmod 755 "$T"
trap 'scripts/dns.sh stop "$T/dns" >/dev/null 2>&1; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
DNS=127.26.0.53
cat > "$T/z.conf" <<EOF
include $PWD/datasets/fleet/personalities.conf
assign 127.26.1.1-127.26.1.2 modern name=mx{o}.z.test
assign 127.26.1.3 no-tls name=mx{o}.z.test
EOF
MXFLEET="$BIN/mxfleet" FLEET_ORIGIN=z.test scripts/fleet.sh start "$T/fleet" "$T/z.conf" >"$T/fleet.err" 2>&1 \
  || { echo "1..1"; echo "not ok 1 - fleet"; sed 's/^/# /' "$T/fleet.err"; exit 0; }
cat > "$T/z.zone" <<'EOF'
$ORIGIN z.test.
$TTL 300
@ IN SOA ns1.z.test. h.z.test. 1 3600 600 86400 300
@ IN NS ns1.z.test.
ns1 IN A 127.26.0.53
mx1 IN A 127.26.1.1
mx2 IN A 127.26.1.2
plain IN MX 10 mx2.z.test.
EOF
scripts/dns.sh start "$T/dns" "$T/z.zone" --listen "$DNS@5353" >"$T/dns.err" 2>&1 \
  || { echo "1..1"; echo "not ok 1 - dns"; sed 's/^/# /' "$T/dns.err"; exit 0; }
# line 1-5: mxlookup 1.x, mxlookup 2.x, MX module 2.x, NXDOMAIN, null MX; 6: plain domain;
# 7: invalid JSON; 8: an IPv4 member holding an IPv6 address; 9: NOERROR without MX
cat > "$T/in.txt" <<'EOF'
{"name":"all.z.test","class":"IN","status":"NOERROR","timestamp":"2026-11-21T10:00:00Z","data":{"exchanges":[{"name":"mx2.z.test","type":"MX","class":"IN","preference":20,"ipv4_addresses":["127.26.1.2"],"ttl":300},{"name":"mx1.z.test.","type":"MX","class":"IN","preference":10,"ipv4_addresses":["127.26.1.1","127.26.1.1"],"ttl":300}]}}
{"name":"some.z.test","results":{"MXLOOKUP":{"data":{"exchanges":[{"class":"IN","ipv4_addresses":["127.26.1.3"],"name":"mx3.z.test","preference":5,"ttl":300,"type":"MX"},{"class":"IN","ipv4_addresses":["127.26.1.1"],"name":"mx1.z.test","preference":10,"ttl":300,"type":"MX"}]},"duration":0.01,"status":"NOERROR","timestamp":"2026-11-21T10:00:00Z"}}}
{"name":"raw.z.test","results":{"MX":{"data":{"answers":[{"answer":"mx1.z.test.","class":"IN","name":"raw.z.test","preference":10,"ttl":300,"type":"MX"}],"protocol":"udp","resolver":"127.26.0.53:5353"},"status":"NOERROR"}}}
{"name":"gone.z.test","class":"IN","status":"NXDOMAIN","data":{"exchanges":[]}}
{"name":"nomail.z.test","status":"NOERROR","data":{"exchanges":[{"name":".","type":"MX","preference":0}]}}
plain.z.test
{"name":"broken.z.test","status":"NOERROR","data":{"exchanges":[
{"name":"wrong.z.test","status":"NOERROR","data":{"exchanges":[{"name":"mx1.z.test","preference":10,"ipv4_addresses":["::1"]}]}}
{"name":"nomx.z.test","status":"NO_ANSWER"}
EOF
"$BIN/mxscan" --allowlist 127.26.0.0/16 --resolver "$DNS:5353" --enum quick --no-handshake \
  --banner-timeout 5 -i "$T/in.txt" -o "$T/rec.json" 2>"$T/err"
echo "rc=$?" >> "$T/err"
# mxlookup lines only, and a resolver nobody serves: nothing may be asked
head -2 "$T/in.txt" > "$T/only.txt"
"$BIN/mxscan" --allowlist 127.26.0.0/16 --resolver 127.26.0.54:5353 --enum quick --no-handshake \
  --banner-timeout 5 -i "$T/only.txt" -o "$T/only.json" 2>"$T/only.err"
scripts/validate-records "$T/rec.json" > "$T/valid.out" 2>&1; echo "$?" > "$T/valid.rc"
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
n = 0
def check(c, what, detail=""):
    global n
    n += 1
    print(("ok" if c else "not ok") + f" {n} - {what}" + ("" if c or not detail else f"  # {detail}"))
recs = [json.loads(l) for l in open(f"{t}/rec.json")]
err = open(f"{t}/err").read()
doms = {r["domain"]: r for r in recs if r["type"] == "domain"}
hosts = {f'{r["ip"]}:{r["port"]}': r for r in recs if r["type"] == "host" and "ip" in r}
keys = [f'{r["ip"]}:{r["port"]}' for r in recs if r["type"] == "host" and "ip" in r]
check(sorted(doms) == sorted(["all.z.test", "some.z.test", "raw.z.test", "gone.z.test", "nomail.z.test",
                              "plain.z.test", "nomx.z.test"]), "one domain record per valid line", sorted(doms))
check(sorted(keys) == ["127.26.1.1:25", "127.26.1.2:25", "127.26.1.3:25"], "each of the 3 addresses scanned once", keys)
d = doms["all.z.test"]
check(d.get("dns", {}).get("source") == "zdns" and d["mx_status"] == "ok", "mxlookup 1.x line: source zdns, ok",
      json.dumps(d)[:300])
check([(x["name"], x["preference"], x["addresses"], x["hosts"]) for x in d["mx"]] ==
      [("mx1.z.test", 10, ["127.26.1.1"], ["127.26.1.1:25"]), ("mx2.z.test", 20, ["127.26.1.2"], ["127.26.1.2:25"])],
      "MX sorted by preference, trailing dot stripped, duplicate address dropped", json.dumps(d["mx"]))
check(d["verdict"]["tls"] == "all" and d["verdict"]["hosts_scanned"] == 2, "all: both hosts speak TLS", json.dumps(d["verdict"]))
d = doms["some.z.test"]
check(d.get("dns", {}).get("source") == "zdns" and [x["name"] for x in d["mx"]] == ["mx3.z.test", "mx1.z.test"]
      and d["verdict"]["tls"] == "some", "mxlookup 2.x line (results.MXLOOKUP): MX set and verdict 'some'",
      json.dumps(d)[:300])
d = doms["raw.z.test"]
check(d.get("dns", {}).get("source") == "zdns" and d["mx"] and d["mx"][0]["addresses"] == ["127.26.1.1"]
      and d["verdict"]["tls"] == "all", "MX module line: MX from the line, its address looked up", json.dumps(d)[:300])
check(doms["gone.z.test"]["mx_status"] == "nxdomain" and doms["gone.z.test"]["verdict"]["tls"] == "unknown",
      "NXDOMAIN line recorded")
check(doms["nomail.z.test"]["mx_status"] == "null-mx" and doms["nomail.z.test"]["mx"] == [], "null MX line recorded")
check(doms["nomx.z.test"]["mx_status"] == "nodata" and doms["nomx.z.test"]["mx"] == [], "NO_ANSWER line: nodata")
d = doms["plain.z.test"]
check("dns" not in d and d["mx"][0]["hosts"] == ["127.26.1.2:25"], "a plain domain line is resolved as before",
      json.dumps(d)[:300])
h = hosts.get("127.26.1.1:25", {})
check(sorted(h.get("domains", [])) == ["all.z.test", "raw.z.test", "some.z.test"] and h.get("names") == ["mx1.z.test"],
      "host record lists the MX name and the domains of zdns lines", json.dumps({k: h.get(k) for k in ("names", "domains")}))
h3 = hosts.get("127.26.1.3:25", {})
check(h3.get("domains") == ["some.z.test"] and not h3.get("tls", {}).get("baseline", {}).get("version"),
      "the server without TLS is scanned for some.z.test", json.dumps({k: h3.get(k) for k in ("names", "domains", "status")}))
check("in.txt:7: zdns line: invalid JSON" in err, "invalid JSON reported with its line number", err[-400:])
check("in.txt:8: zdns line: exchange mx1.z.test: ipv4_addresses holds something that is not an IPv4 address" in err,
      "wrong address family reported with its line number", err[-400:])
check("2 invalid input line(s) skipped" in err, "invalid lines counted with other bad lines", err[-400:])
only = [json.loads(l) for l in open(f"{t}/only.json")]
oerr = open(f"{t}/only.err").read()
od = {r["domain"]: r for r in only if r["type"] == "domain"}
check(sorted(od) == ["all.z.test", "some.z.test"] and od["all.z.test"]["verdict"]["tls"] == "all"
      and "resolving MX" not in oerr, "mxlookup lines only: scanned with no DNS query", oerr[-300:])
check(open(f"{t}/valid.rc").read().strip() == "0", "records valid against datasets/schema/record.schema.json",
      open(f"{t}/valid.out").read()[-300:])
print(f"1..{n}")
PYEOF
