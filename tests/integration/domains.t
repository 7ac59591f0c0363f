#!/usr/bin/env bash
# Domains in: the demo fleet and its zone on a local knot. Every DNS case lands
# in the records as data (MX ok and sorted, null MX, MX to a CNAME, MX host
# without address, no MX but an A record = implicit MX, NXDOMAIN, a zone the
# server does not serve = refused), every (IP, port) is scanned once however
# many domains share it, and domain verdicts follow from their hosts.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/mxscan-dom.XXXXXX); chmod 755 "$T"
trap 'scripts/dns.sh stop "$T/dns" >/dev/null 2>&1; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
for x in $(seq 60 99); do ss -Hlun | grep -q "127\.0\.0\.$x:53[0-9][0-9]" || { DNS=127.0.0.$x; break; }; done
MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/demo.conf >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - fleet"; exit 0; }
# a second zone: 1,000 domains whose MX all point at 5 addresses of the fleet
{
  printf '$ORIGIN many.test.\n$TTL 300\n@ IN SOA ns1.many.test. h.many.test. 1 3600 600 86400 300\n@ IN NS ns1.many.test.\nns1 IN A 127.0.0.53\n'
  for i in 1 2 3 4 5; do printf 'mx%d IN A 127.1.1.%d\n' $i $i; done
  for i in $(seq 1 1000); do printf 'd%d IN MX 10 mx%d.many.test.\n' $i $(( i % 5 + 1 )); done
} > "$T/many.zone"
seq 1 1000 | sed 's/^/d/; s/$/.many.test/' > "$T/many.txt"
scripts/dns.sh start "$T/dns" "$T/fleet/fleet.zone" "$T/many.zone" --listen "$DNS@5355" >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - dns"; exit 0; }
# every domain of the demo (alpha's 63 share 7 MX hosts), the DNS oddities, and twice the same domain
"$PY" -c 'import json,sys
s=set()
for l in open(sys.argv[1]): s.update(json.loads(l)["domains"])
print("\n".join(sorted(s)))' "$T/fleet/manifest.jsonl" > "$T/domains.txt"
printf '%s\n' nullmx.fleet.test noaddr.fleet.test amx.fleet.test missing.fleet.test outside.example \
  shop1.fleet.test 7,ranked.fleet.test >> "$T/domains.txt"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --resolver "$DNS:5355" -q --enum quick --no-handshake \
  --banner-timeout 5 -i "$T/domains.txt" -o "$T/rec.json" 2>"$T/err"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --resolver "$DNS:5355" -q --enum quick --no-handshake \
  -i "$T/many.txt" -o "$T/many.json" 2>>"$T/err"
# certificates against the MX name and, separately, the recipient domain (full handshake, test CA)
head -40 "$T/domains.txt" > "$T/some.txt"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --resolver "$DNS:5355" -q --enum quick --ca-file "$T/fleet/certs/ca.pem" \
  --banner-timeout 5 -i "$T/some.txt" -o "$T/certs.json" 2>>"$T/err"
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
recs = [json.loads(l) for l in open(f"{t}/rec.json")]
doms = {r["domain"]: r for r in recs if r["type"] == "domain"}
hosts = [r for r in recs if r["type"] == "host" and "ip" in r]
man = [json.loads(l) for l in open(f"{t}/fleet/manifest.jsonl")]
n = 0
def check(c, what, detail=""):
    global n
    n += 1
    print(("ok" if c else "not ok") + f" {n} - {what}" + ("" if c or not detail else f"  # {detail}"))
inputs = set(l.strip().split(",")[-1] for l in open(f"{t}/domains.txt") if l.strip())
check(set(doms) == inputs, f"one domain record per input domain ({len(doms)})", f"{sorted(inputs ^ set(doms))[:5]}")
keys = [(h["ip"], h["port"]) for h in hosts]
check(len(keys) == len(set(keys)), f"each (IP, port) scanned once ({len(keys)} host records)")
want_hosts = {(m["ip"], 25) for m in man if m["port"] == 25 and m["domains"]}
check({k for k in keys} >= want_hosts, "every MX address of the demo scanned", f"missing {sorted(want_hosts - set(keys))[:5]}")
alpha = [d for d in doms.values() if any(x["name"].endswith(".alpha.fleet.test") for x in d["mx"])]
alpha_hosts = {h for d in alpha for x in d["mx"] for h in x["hosts"]}
alpha_man = {f'{m["ip"]}:25' for m in man if m["port"] == 25 and any(x.endswith(".alpha.fleet.test") for x in m["names"])}
check(len(alpha) >= 60 and alpha_hosts == alpha_man, f"{len(alpha)} alpha domains share its {len(alpha_hosts)} hosts",
      f"{sorted(alpha_hosts ^ alpha_man)[:4]}")
d = doms["nullmx.fleet.test"]
check(d["mx_status"] == "null-mx" and d["verdict"]["tls"] == "unknown", "null MX recorded (RFC 7505)", json.dumps(d)[:200])
d = doms["cnamed.fleet.test"]
check(d["mx"] and d["mx"][0].get("cname") == "mx1.alpha.fleet.test", "MX pointing to a CNAME recorded", json.dumps(d)[:200])
d = doms["noaddr.fleet.test"]
check(d["mx"] and d["mx"][0]["address_status"] in ("nxdomain", "nodata") and not d["mx"][0]["addresses"],
      "MX host without address recorded", json.dumps(d)[:200])
d = doms["amx.fleet.test"]
check(d.get("implicit_mx") and d["mx_status"] == "nodata" and d["mx"][0]["addresses"] == ["127.1.1.1"],
      "no MX but an A record: implicit MX (RFC 5321 5.1)", json.dumps(d)[:200])
check(doms["missing.fleet.test"]["mx_status"] == "nxdomain", "NXDOMAIN recorded")
check(doms["outside.example"]["mx_status"] in ("refused", "servfail"), "a zone the server does not serve: refused",
      doms["outside.example"]["mx_status"])
check(doms["ranked.fleet.test"].get("rank") == 7, "rank kept from rank,domain input")
d = doms["shop1.fleet.test"]
prefs = [x["preference"] for x in d["mx"]]
check(prefs == sorted(prefs) and len(prefs) >= 2, f"MX sorted by preference {prefs}")
# verdicts follow the hosts
byhost = {f'{h["ip"]}:{h["port"]}': h for h in hosts}
bad = []
for name, d in doms.items():
    hs = [byhost[h] for x in d["mx"] for h in x["hosts"] if h and h in byhost]
    tls = [bool(h.get("tls", {}).get("baseline", {}).get("version")) for h in hs]
    want = "unknown" if not hs else "all" if all(tls) else "some" if any(tls) else "none"
    if d["verdict"]["tls"] != want:
        bad.append((name, d["verdict"]["tls"], want))
check(not bad, "every domain verdict follows from its hosts", str(bad[:3]))
h = byhost.get("127.1.1.1:25")
check(h and "shop1.fleet.test" in h.get("domains", []) and "mx1.alpha.fleet.test" in h.get("names", [])
      and "amx.fleet.test" in h.get("names", []),
      "host records list their MX names and domains", json.dumps({k: h.get(k) for k in ("names", "domains", "domains_total")}) if h else "")
def rfc6125(pattern, name):
    p, q = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if p.startswith("*."):
        return q.count(".") >= p.count(".") and q.split(".", 1)[1] == p[2:] and q.split(".", 1)[0] != ""
    return p == q
cr = [json.loads(l) for l in open(f"{t}/certs.json")]
chost = {f'{r["ip"]}:{r["port"]}': r for r in cr if r["type"] == "host" and "ip" in r}
cdoms = [r for r in cr if r["type"] == "domain"]
bad, seen = [], 0
for d in cdoms:
    hs = [chost[h] for x in d["mx"] for h in x["hosts"] if h and h in chost and "certificate" in chost[h].get("tls", {})]
    if not hs:
        continue
    seen += 1
    m = [any(rfc6125(s, d["domain"]) for s in h["tls"]["certificate"]["chain"][0]["sans"] if not s.startswith("IP:")) for h in hs]
    want = "all" if all(m) else "some" if any(m) else "none"
    if d["verdict"].get("name_match_domain") != want:
        bad.append((d["domain"], d["verdict"].get("name_match_domain"), want))
check(seen >= 10 and not bad, f"name match against the recipient domain agrees with RFC 6125 on the SANs ({seen} domains)", str(bad[:3]))
many = [json.loads(l) for l in open(f"{t}/many.json")]
mh = [r for r in many if r["type"] == "host"]
md = [r for r in many if r["type"] == "domain"]
check(len(mh) == 5 and len(md) == 1000, f"1,000 domains on 5 addresses: {len(mh)} host scans, {len(md)} domain records")
check(all(r.get("domains_total", len(r.get("domains", []))) == 200 for r in mh), "each host lists 16 of its 200 domains and counts all",
      str([r.get("domains_total") for r in mh]))
print(f"1..{n}")
PYEOF
scripts/validate-records "$T/rec.json" >/dev/null 2>&1 && echo "# records valid" || { echo "not ok - records invalid"; scripts/validate-records "$T/rec.json" | tail -3 | sed 's/^/# /'; }
