#!/usr/bin/env bash
# mxreport against ground truth: a fleet of known composition (datasets/fleet/report-a.conf, 18
# servers on 127.28.x.y:2525) scanned with full enumeration and geo databases, then the same
# fleet with three servers' personalities changed (report-b.conf).
#   - geo: MaxMind DBs written here (tests/integration/lib/mkmmdb.pl: country, ASN, city, flat,
#     combined styles) map the fleet's /24s to made-up countries and ASNs; every host record
#     carries exactly its network's geo; --by country|asn|provider group as the fleet says;
#     mxreport --geoip/--asn-db fills geo for records without it and leaves existing geo alone;
#     a file that is not a MaxMind DB is refused (exit 1) before any output is truncated.
#   - aggregates: every number of the status, STARTTLS, versions, best version, verify code and
#     failure tables (summary text and json) equals the count derived from the fleet's
#     manifest.jsonl (what mxfleet was configured to be), not from the records.
#     With knot (127.28.0.53:5353) serving mail domains on the fleet, domain MX status and
#     verdicts are checked the same way.
#   - docs/sql/duckdb.sql (DuckDB from npm, scripts/duckdb-node.sh; skipped when not installable)
#     gives the same tables as mxreport json on the same records.
#   - diff A -> B lists exactly the three changed servers, with the changed fields and values the
#     two manifests imply.
#   - CSV formula guard; the HTML report rendered by headless Chromium (scripts/report-screenshot.sh).
# Addresses: 127.28.0.0/16 only (this test's own range).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
R="$BIN/mxreport"
T=$(mktemp -d /tmp/mxreport-fleet.XXXXXX); chmod 755 "$T"
trap 'scripts/dns.sh stop "$T/dns" >/dev/null 2>&1; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..28"

MK="perl tests/integration/lib/mkmmdb.pl"
# alpha DE/AS64500, beta FR/AS64501, gamma JP (no AS in any database), delta in no database
$MK "$T/country.mmdb" country 127.28.1.0/24=DE 127.28.2.0/24=FR 127.28.3.0/24=JP &&
  $MK "$T/asn.mmdb" asn '127.28.1.0/24=,64500,Test AS DE' '127.28.2.0/24=,64501,Test AS FR' &&
  $MK "$T/city.mmdb" city 127.28.1.0/24=DE 127.28.2.0/24=FR 127.28.3.0/24=JP &&
  $MK "$T/flat.mmdb" flat 127.28.1.0/24=DE 127.28.2.0/24=FR 127.28.3.0/24=JP &&
  $MK "$T/combined.mmdb" combined '127.28.1.0/24=DE,64500,Test AS DE' '127.28.2.0/24=FR,64501,Test AS FR' \
    127.28.3.0/24=JP &&
  $MK "$T/other.mmdb" combined '127.0.0.0/8=XX,65000,Elsewhere'
t $? "test MaxMind DBs written (country, asn, city, flat, combined)"

fleet_start() { # CONF
  if ! MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" "$1" > "$T/fleet.out" 2>&1; then
    sed 's/^/# /' "$T/fleet.out"; return 1
  fi
  cp "$T/fleet/manifest.jsonl" "$T/manifest-$(basename "$1" .conf).jsonl"
  # zgrab2-style CSV: the address with its MX name (SNI, name checks, provider grouping)
  "$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    m = json.loads(l); print("%s,%s,,%d" % (m["ip"], m["names"][0], m["port"]))' "$T/fleet/manifest.jsonl" > "$T/targets"
}
SCAN=("$BIN/mxscan" --allowlist 127.28.0.0/16 -q --banner-timeout 5 --timeout 5 --tls-timeout 3)

fleet_start datasets/fleet/report-a.conf
t $? "fleet A (report-a.conf) starts"

# Mail domains on the fleet's servers (knot on 127.28.0.53:5353), for domain records: each
# domain's MX hosts are fleet servers, so its verdicts follow from the manifest too.
DOMAINS="shop1 10 mx1.alpha.test 20 mx2.alpha.test
shop2 10 mx5.alpha.test
corp1 10 mx1.beta.co.uk
corp2 10 mx4.beta.co.uk
mixed 10 mx1.alpha.test 20 mx1.gamma.test
old 10 mx1.gamma.test 20 mx2.gamma.test
strip 10 mx3.gamma.test
busy 10 mx2.delta.test
null 0 ."
DNS=""
if command -v knotd > /dev/null 2>&1; then
  "$PY" - "$T/fleet/manifest.jsonl" "$T" "$DOMAINS" <<'PYEOF'
import json, sys
t, domains = sys.argv[2], sys.argv[3]
head = ("$TTL 300\n@ IN SOA ns1.report.test. h.report.test. 1 3600 600 86400 300\n"
        "@ IN NS ns1.report.test.\n")
test = ["$ORIGIN test.\n" + head + "ns1.report IN A 127.28.0.53\n"]
couk = ["$ORIGIN co.uk.\n" + head]
for m in map(json.loads, open(sys.argv[1])):
    (couk if m["names"][0].endswith(".co.uk") else test).append(f'{m["names"][0]}. IN A {m["ip"]}\n')
for line in domains.splitlines():
    d, *mx = line.split()
    for pref, host in zip(mx[::2], mx[1::2]):
        test.append(f"{d}.report IN MX {pref} {host}{'' if host == '.' else '.'}\n")
open(f"{t}/test.zone", "w").write("".join(test))
open(f"{t}/co.uk.zone", "w").write("".join(couk))
PYEOF
  if scripts/dns.sh start "$T/dns" "$T/test.zone" "$T/co.uk.zone" --listen 127.28.0.53@5353 > "$T/dns.out" 2>&1; then
    DNS=127.28.0.53:5353
    { echo "$DOMAINS" | awk '{print $1 ".report.test:2525"}'; echo missing.report.test:2525; } >> "$T/targets"
  else
    sed 's/^/# /' "$T/dns.out"
  fi
fi
"${SCAN[@]}" --ca-file "$T/fleet/certs/ca.pem" --geoip "$T/country.mmdb" --asn-db "$T/asn.mmdb" \
  ${DNS:+--resolver $DNS} -i "$T/targets" -o "$T/a.ndjson.gz" 2> "$T/scan-a.err"
r=$?
[ $r = 0 ] && scripts/validate-records "$T/a.ndjson.gz" > "$T/val-a.out" 2>&1
t $? "scan A with --geoip/--asn-db: exit 0, every record valid against the schema (geo included)"

"$PY" - "$T/a.ndjson.gz" "$T/manifest-report-a.jsonl" <<'PYEOF'
import gzip, json, sys
want = {"127.28.1": {"country": "DE", "asn": 64500, "as_org": "Test AS DE"},
        "127.28.2": {"country": "FR", "asn": 64501, "as_org": "Test AS FR"},
        "127.28.3": {"country": "JP"}, "127.28.4": {}}
H = [r for r in map(json.loads, gzip.open(sys.argv[1], "rt")) if r["type"] == "host"]
M = [json.loads(l) for l in open(sys.argv[2])]
ok = sorted(h["ip"] for h in H) == sorted(m["ip"] for m in M)
for h in H:
    w = want[h["ip"].rsplit(".", 1)[0]]
    if h.get("geo") != w:
        print("#", h["ip"], h.get("geo"), "!=", w); ok = False
sys.exit(0 if ok else 1)
PYEOF
t $? "every host record has its network's geo: DE/AS64500, FR/AS64501, JP without AS, {} outside the DBs"

# Expected groups from the manifest: a host's group follows from its address (geo) or MX name.
"$PY" - "$T/manifest-report-a.jsonl" "$T" <<'PYEOF'
import json, sys
M = [json.loads(l) for l in open(sys.argv[1])]
net = lambda m: m["ip"].rsplit(".", 1)[0]
country = {"127.28.1": "DE", "127.28.2": "FR", "127.28.3": "JP", "127.28.4": "(not in database)"}
asn = {"127.28.1": "AS64500 Test AS DE", "127.28.2": "AS64501 Test AS FR"}
def provider(name):
    labels = name.split(".")
    return ".".join(labels[-3:] if ".".join(labels[-2:]) == "co.uk" else labels[-2:])
keys = {"country": lambda m: country[net(m)], "asn": lambda m: asn.get(net(m), "(not in database)"),
        "provider": lambda m: provider(m["names"][0])}
for by, key in keys.items():
    g = {}
    for m in M:
        e = g.setdefault(key(m), {"hosts": 0, "success": 0})
        e["hosts"] += 1
        e["success"] += m["expect"]["status"] == "success"
    json.dump(g, open(f"{sys.argv[2]}/want-{by}.json", "w"), sort_keys=True)
PYEOF
check_groups() { # JSON BY  -> compares the json report's by.groups with want-BY.json
  "$PY" - "$1" "$T/want-$2.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1])); want = json.load(open(sys.argv[2]))
got = {g["group"]: {"hosts": g["hosts"], "success": g["success"]["count"]} for g in d["by"]["groups"] if g["hosts"]}
if got != want: print("# got", got, "\n# want", want)
sys.exit(0 if got == want else 1)
PYEOF
}
for by in country asn provider; do
  "$R" json --by $by "$T/a.ndjson.gz" > "$T/by-$by.json" && check_groups "$T/by-$by.json" $by
  t $? "json --by $by: one group per $by with the fleet's hosts and successes"
done
"$R" summary --by provider "$T/a.ndjson.gz" > "$T/by-provider.txt" &&
  grep -Eq '^  beta\.co\.uk +5 ' "$T/by-provider.txt" && grep -Eq '^  alpha\.test +6 ' "$T/by-provider.txt" &&
  grep -qF 'note: provider = the registered domain of the first MX name' "$T/by-provider.txt" &&
  grep -qF 'multi-label suffixes like co.uk' "$T/by-provider.txt"
t $? "summary --by provider: mx3.beta.co.uk groups as beta.co.uk (multi-label suffix), the note says how"

# ---- mxreport --geoip/--asn-db on records without geo ----
"$PY" -c 'import gzip,json,sys
for l in gzip.open(sys.argv[1], "rt"):
    r = json.loads(l); r.pop("geo", None); print(json.dumps(r))' "$T/a.ndjson.gz" > "$T/nogeo.ndjson"
"$R" json --by country "$T/nogeo.ndjson" | grep -q 'no geo data in records'
t $? "json --by country on records without geo: the note says where geo comes from"
ok=0
for db in country city flat combined; do
  "$R" json --by country --geoip "$T/$db.mmdb" "$T/nogeo.ndjson" > "$T/en-$db.json" &&
    check_groups "$T/en-$db.json" country || { echo "# $db style"; ok=1; }
done
t $ok "mxreport --geoip fills country from country, city, flat (country_code) and combined DBs"
"$R" json --by asn --asn-db "$T/asn.mmdb" "$T/nogeo.ndjson" > "$T/en-asn.json" && check_groups "$T/en-asn.json" asn &&
  "$R" json --by asn --geoip "$T/combined.mmdb" "$T/nogeo.ndjson" > "$T/en-asn2.json" &&
  check_groups "$T/en-asn2.json" asn
t $? "mxreport --asn-db (and a combined DB given as --geoip) fills asn and as_org"
"$R" csv --fields ip,geo.country,geo.asn,geo.as_org --geoip "$T/country.mmdb" --asn-db "$T/asn.mmdb" \
  "$T/nogeo.ndjson" > "$T/en.csv" && "$R" csv --fields ip,geo.country,geo.asn,geo.as_org "$T/a.ndjson.gz" > "$T/a.csv" &&
  cmp -s "$T/en.csv" "$T/a.csv"
t $? "csv --geoip/--asn-db rows equal the rows of records geo-tagged at scan time"
"$R" json --by country --geoip "$T/other.mmdb" "$T/a.ndjson.gz" > "$T/keep.json" && check_groups "$T/keep.json" country
t $? "mxreport --geoip leaves records that already carry geo alone"

# ---- a file that is not a MaxMind DB ----
printf 'just some text, not a MaxMind DB\n' > "$T/bogus.mmdb"
cp "$T/a.ndjson.gz" "$T/keep.ndjson.gz"
"${SCAN[@]}" --geoip "$T/bogus.mmdb" -o "$T/keep.ndjson.gz" 127.28.1.1:2525 > "$T/bogus.out" 2> "$T/bogus.err"
r=$?
[ $r = 1 ] && [ "$(wc -l < "$T/bogus.err")" = 1 ] && grep -q "bogus.mmdb is not a MaxMind DB" "$T/bogus.err" &&
  cmp -s "$T/a.ndjson.gz" "$T/keep.ndjson.gz" && [ ! -s "$T/bogus.out" ]
t $? "mxscan --geoip NOT-MMDB: exit 1, one message naming the file, the existing output untouched"
"${SCAN[@]}" --asn-db "$T/missing.mmdb" -o "$T/keep.ndjson.gz" 127.28.1.1:2525 2> "$T/missing.err"
r=$?
[ $r = 1 ] && grep -q -- "--asn-db: cannot open" "$T/missing.err" && cmp -s "$T/a.ndjson.gz" "$T/keep.ndjson.gz"
t $? "mxscan --asn-db MISSING: exit 1 with a message, output untouched"
echo keep > "$T/report.txt"
"$R" summary --geoip "$T/bogus.mmdb" -o "$T/report.txt" "$T/a.ndjson.gz" 2> "$T/r-bogus.err"
r=$?
[ $r = 1 ] && grep -q "not a MaxMind DB" "$T/r-bogus.err" && [ "$(cat "$T/report.txt")" = keep ]
t $? "mxreport --geoip NOT-MMDB: exit 1, the -o file untouched"

# ---- aggregates against the manifest ----
"$PY" - "$T/manifest-report-a.jsonl" "$DNS" "$DOMAINS" > "$T/want-tables.json" <<'PYEOF'
import json, sys
from collections import Counter
M = [json.loads(l) for l in open(sys.argv[1])]
byname = {m["names"][0]: m for m in M}
V = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
reach = [m for m in M if m["expect"]["tls_reachable"]]
sup = lambda m: [v for v in V if m["tls"]["versions"][v]["supported"]]
want = {
    "status": (len(M), Counter(m["expect"]["status"] for m in M)),
    # of STARTTLS-mode hosts that answered EHLO (smtp.starttls is null when the greeting stops the client)
    "starttls": (sum(m["smtp"]["starttls"] is not None for m in M),
                 Counter(m["smtp"]["starttls"] for m in M if m["smtp"]["starttls"] is not None)),
    "versions_supported": (len(reach), Counter({v: sum(v in sup(m) for m in reach) for v in V})),
    "best_version": (len(reach), Counter(sup(m)[-1] for m in reach)),
    "verify": (len(reach), Counter(str(m["tls"]["certificate"]["verify"]["code"]) for m in reach)),
    "failures": (len(M), Counter(f'{m["expect"]["failure"]["stage"]}: {m["expect"]["failure"]["reason"]}'
                                 for m in M if m["expect"]["failure"])),
}
if sys.argv[2]:  # domains: verdicts over each domain's MX hosts (null MX and NXDOMAIN: unknown)
    def verdict(hosts, ok):
        if not hosts: return "unknown"
        n = sum(map(ok, hosts))
        return "all" if n == len(hosts) else "some" if n else "none"
    doms = [(l.split()[0], [byname[h] for h in l.split()[2::2] if h != "."]) for l in sys.argv[3].splitlines()]
    doms.append(("missing", []))
    want["domain_tls"] = (len(doms), Counter(verdict(h, lambda m: m["expect"]["tls_reachable"]) for _, h in doms))
    want["domain_starttls"] = (len(doms), Counter(verdict(h, lambda m: m["smtp"]["starttls"] == "offered")
                                                  for _, h in doms))
    want["domain_mx_status"] = (len(doms), Counter({"ok": len(doms) - 2, "null-mx": 1, "nxdomain": 1}))
json.dump({k: [d, dict(c)] for k, (d, c) in want.items()}, sys.stdout)
PYEOF
"$R" json "$T/a.ndjson.gz" > "$T/a.json"
"$PY" - "$T/a.json" "$T/want-tables.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))["tables"]; want = json.load(open(sys.argv[2]))
ok = True
for tid, (den, counts) in want.items():
    got = {k: v for k, v in d[tid]["counts"].items() if v}
    if tid == "verify":  # labels are "CODE TEXT"; the manifest knows the code
        got = {k.split(" ", 1)[0]: v for k, v in got.items()}
    counts = {k: v for k, v in counts.items() if v}
    if d[tid]["denominator"] != den or got != counts:
        print("#", tid, "got", d[tid]["denominator"], got, "want", den, counts); ok = False
sys.exit(0 if ok else 1)
PYEOF
t $? "json: status, STARTTLS, versions, best version, verify codes, failures${DNS:+, domain MX status and verdicts} equal the manifest's counts"
"$R" summary "$T/a.ndjson.gz" > "$T/a.txt"
"$PY" - "$T/a.txt" "$T/want-tables.json" <<'PYEOF'
import json, re, sys
text = open(sys.argv[1]).read(); want = json.load(open(sys.argv[2]))
titles = {"status": "hosts by status", "starttls": "STARTTLS in the EHLO reply",
          "versions_supported": "TLS versions supported", "failures": "failures (stage: reason)"}
ok = True
for tid, title in titles.items():
    den, counts = want[tid]
    block = re.search(r"^" + re.escape(title) + r" \(of (\d+) [^\n]*\n((?:  [^\n]*\n)*)", text, re.M)
    if not block or int(block.group(1)) != den:
        print("#", tid, "block or denominator missing"); ok = False; continue
    for label, c in counts.items():
        if c and not re.search(r"^  " + re.escape(label) + r" +" + f"{c}/{den} ", block.group(2), re.M):
            print("#", tid, label, f"{c}/{den}", "not in", block.group(2)); ok = False
sys.exit(0 if ok else 1)
PYEOF
t $? "summary text: the same counts and denominators as the manifest"

# ---- docs/sql/duckdb.sql on the same records: the same tables as mxreport json ----
if DUCK=$(scripts/duckdb-node.sh 2> "$T/duckdb.err"); then
  node "$DUCK/duckdb-run.mjs" docs/sql/duckdb.sql "$T/a.ndjson.gz" > "$T/duck.jsonl" 2> "$T/duck.err"
  r=$?
  "$R" json --by country "$T/a.ndjson.gz" > "$T/a-country.json"
  "$PY" - "$T/duck.jsonl" "$T/a-country.json" "$T/a.ndjson.gz" <<'PYEOF'
import gzip, json, sys
duck = {q["name"]: q["rows"] for q in map(json.loads, open(sys.argv[1]))}
rep = json.load(open(sys.argv[2]))
ok = True
same = ["status", "starttls", "versions_supported", "least_grade", "verify", "failures", "domain_tls",
        "domain_starttls"]
for tid in same:
    rows = duck.get(tid)
    want = {k: v for k, v in rep["tables"][tid]["counts"].items() if v}
    got = {r["label"]: int(r["n"]) for r in rows or [] if int(r["n"])}
    dens = {int(r["denominator"]) for r in rows or []}
    if got != want or (want and dens != {rep["tables"][tid]["denominator"]}):
        print("#", tid, "duckdb", got, dens, "mxreport", want, rep["tables"][tid]["denominator"]); ok = False
if not rep["tables"]["domain_tls"]["counts"]:
    print("# no domain records: the domain queries were not exercised")
# queries without an mxreport table: from the records
H = [r for r in map(json.loads, gzip.open(sys.argv[3], "rt")) if r["type"] == "host"]
off = [h for h in H if h["mode"] == "starttls" and h.get("smtp", {}).get("starttls") == "offered"]
work = sum("version" in h.get("tls", {}).get("baseline", {}) for h in off)
got = {r["label"]: int(r["n"]) for r in duck["starttls_working"]}
if got != {k: v for k, v in {"tls": work, "no tls": len(off) - work}.items() if v}:
    print("# starttls_working", got, work, len(off)); ok = False
groups = {g["group"]: (g["hosts"], g["starttls_offered"]["count"]) for g in rep["by"]["groups"]}
got = {r["label"]: (int(r["n"]), int(r["starttls_offered"])) for r in duck["by_country"]}
if got != groups:
    print("# by_country", got, groups); ok = False
sys.exit(0 if ok and len(duck) == len(same) + 2 else 1)
PYEOF
  [ $? = 0 ] && [ $r = 0 ]
  t $? "docs/sql/duckdb.sql (DuckDB $(cd "$DUCK" && node -p 'require("@duckdb/node-api/package.json").version' 2>/dev/null)) gives mxreport json's tables on the scan's records"
else
  n=$((n+1)); echo "ok $n # SKIP DuckDB for Node.js not installable here: $(tail -1 "$T/duckdb.err")"
fi

# ---- diff A -> B ----
scripts/fleet.sh stop "$T/fleet" > /dev/null 2>&1
fleet_start datasets/fleet/report-b.conf   # same directory: the same certificates
t $? "fleet B (report-b.conf) starts"
"${SCAN[@]}" --ca-file "$T/fleet/certs/ca.pem" -i "$T/targets" -o "$T/b.ndjson.gz" 2> "$T/scan-b.err"
t $? "scan B"
"$R" diff --json "$T/a.ndjson.gz" "$T/b.ndjson.gz" > "$T/diff.json"
r=$?
"$PY" - "$T/diff.json" "$T/manifest-report-a.jsonl" "$T/manifest-report-b.jsonl" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))["hosts"]
V = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
def facts(m):
    reach = m["expect"]["tls_reachable"]
    return {"status": m["expect"]["status"], "starttls": m["smtp"]["starttls"],
            "versions": sorted(v for v in V if m["tls"]["versions"][v]["supported"]) if reach else None,
            "verify_code": m["tls"]["certificate"]["verify"]["code"] if reach else None}
A = {f'{m["ip"]}:{m["port"]}': facts(m) for m in map(json.loads, open(sys.argv[2]))}
B = {f'{m["ip"]}:{m["port"]}': facts(m) for m in map(json.loads, open(sys.argv[3]))}
want = {}
for k in A:
    ch = {f: [A[k][f], B[k][f]] for f in A[k] if A[k][f] != B[k][f]}
    if ch: want[k] = ch
got = {}
for c in d["changed"]:
    ch = dict(c["changes"])
    if "least_grade" in ch and "versions" not in ch:   # grades follow from suites: only with a version change
        print("# least_grade changed alone on", c["key"]); sys.exit(1)
    ch.pop("least_grade", None)
    got[c["key"]] = {f: [sorted(v["old"]) if f == "versions" and v["old"] else v["old"],
                         sorted(v["new"]) if f == "versions" and v["new"] else v["new"]] for f, v in ch.items()}
ok = (got == want and len(want) == 3 and d["appeared"] == [] and d["disappeared"] == []
      and d["unchanged"] == len(A) - 3)
if not ok: print("# got", got, "\n# want", want)
sys.exit(0 if ok else 1)
PYEOF
[ $? = 0 ] && [ $r = 0 ]
t $? "diff --json A B: exactly the three re-personalised servers, with the manifests' field changes"
"$R" diff "$T/a.ndjson.gz" "$T/b.ndjson.gz" > "$T/diff.txt" &&
  [ "$(grep -cE '127\.28\.(1\.2|2\.4|3\.1):2525' "$T/diff.txt")" -ge 3 ] &&
  ! grep -qE '127\.28\.(1\.[13456]|2\.[1235]|3\.[234]|4\.[123]):2525' "$T/diff.txt"
t $? "diff text names the three changed servers and no other"
"$R" diff --json "$T/a.ndjson.gz" "$T/a.ndjson.gz" | "$PY" -c 'import json,sys; d=json.load(sys.stdin)["hosts"]; sys.exit(0 if d["changed"]==[] and d["unchanged"]==18 else 1)'
t $? "diff of a scan with itself: nothing changed"

# ---- CSV formula guard ----
printf '%s\n' '{"type":"host","schema":"1","scan_id":"f","ip":"192.0.2.1","port":25,"mode":"starttls","status":"=HYPERLINK(\"http://x\",\"y\")","failure":{"stage":"@SUM(A1)","reason":"+cmd|calc","detail":"-2+3"},"probes":{"connections":-1,"duration_ms":1.5e3}}' > "$T/formula.ndjson"
"$R" csv --fields status,failure.stage,failure.reason,failure.detail,probes.connections,probes.duration_ms,port "$T/formula.ndjson" > "$T/formula.csv"
"$PY" - "$T/formula.csv" <<'PYEOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
want = ["'=HYPERLINK(\"http://x\",\"y\")", "'@SUM(A1)", "'+cmd|calc", "'-2+3", "-1", "1.5e3", "25"]
ok = len(rows) == 2 and rows[1] == want
if not ok: print("# got", rows)
sys.exit(0 if ok else 1)
PYEOF
t $? "csv: cells starting with = + - @ get a leading quote (numbers like -1 stay numbers)"

# ---- the HTML report in a real browser (headless Chromium, file://, no network) ----
if command -v chromium > /dev/null 2>&1; then
  "$R" html --by country "$T/a.ndjson.gz" datasets/report/hostile.ndjson -o "$T/report.html"
  scripts/report-screenshot.sh "$T/report.html" "$T/report.png" 2> "$T/shot.err"
  r=$?
  [ $r = 0 ] || sed 's/^/# /' "$T/shot.err" "$T/report.png.console.log"
  t $r "report-screenshot.sh: Chromium renders the page with an empty console log"
  "$PY" - "$T/report.html" "$T/report.png.dom.html" "$T/report.png" <<'PYEOF'
import html.parser, struct, sys, zlib
class Count(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(); self.tags = {}; self.bars = 0
    def handle_starttag(self, tag, attrs):
        self.tags[tag] = self.tags.get(tag, 0) + 1
        self.bars += tag == "rect" and ("class", "bar") in attrs
def count(path):
    c = Count(); c.feed(open(path, encoding="utf-8").read()); return c
src, dom = count(sys.argv[1]), count(sys.argv[2])
ok = True
for tag in ("svg", "rect", "table"):
    if dom.tags.get(tag, 0) != src.tags.get(tag, 0) or not src.tags.get(tag):
        print(f"# {tag}: page {src.tags.get(tag)} DOM {dom.tags.get(tag)}"); ok = False
if dom.bars != src.bars or src.bars < 20:
    print("# bars", src.bars, dom.bars); ok = False
if dom.tags.get("script") or dom.tags.get("img") or dom.tags.get("iframe"):
    print("# hostile record text became markup:", dom.tags); ok = False
# the screenshot: decode the PNG (8-bit RGB/RGBA, stdlib only) and count pixels of the bar colour
data = open(sys.argv[3], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    ln, typ = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + ln]; pos += 12 + ln
    if typ == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif typ == b"IDAT": idat += body
bpp = {2: 3, 6: 4}[ctype]; raw = zlib.decompress(idat); stride = w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
bar = bytes([0x3f, 0x7b, 0xc4])
blue = sum(r[x:x + 3] == bar for r in rows for x in range(0, stride, bpp))
print(f"# screenshot {w}x{h}, {blue} pixels of the bar colour")
ok = ok and blue > 2000
sys.exit(0 if ok else 1)
PYEOF
  t $? "the rendered DOM keeps every chart (svg, bars) and table, no hostile markup; the screenshot shows the bars"
  printf '<html><body><script>console.error("probe")</script></body></html>' > "$T/noisy.html"
  scripts/report-screenshot.sh "$T/noisy.html" "$T/noisy.png" 2> /dev/null
  [ $? = 2 ] && grep -q probe "$T/noisy.png.console.log"
  t $? "report-screenshot.sh catches console output (a page with console.error exits 2)"
else
  for i in 1 2 3; do n=$((n+1)); echo "ok $n # SKIP chromium not installed (scripts/deps.sh installs it)"; done
fi
