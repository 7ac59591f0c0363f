#!/usr/bin/env bash
# mxreport end to end on records of real scans of the knob fleet (datasets/fleet/knobs.conf):
#   A: every STARTTLS knob server, --enum quick;  B: the same minus one host;
#   C: full enumeration of every STARTTLS knob server plus mail domains resolved through a
#      local knot (MX ok / null MX / NXDOMAIN / implicit MX), chains verified against the test CA.
# Every number of `summary` and `json` is checked against counts computed here independently
# (python over the same records); csv rows and quoting, html well-formedness and escaping
# (datasets/report/hostile.ndjson as an extra shard), diff A->B (exactly the removed host
# disappeared), a malformed line (counted, reported with its line number, exit 2, the rest
# processed), exit codes 1 and 3.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
R="$BIN/mxreport"
T=$(mktemp -d /tmp/mxreport-t.XXXXXX); chmod 755 "$T"
trap 'scripts/dns.sh stop "$T/dns" >/dev/null 2>&1; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
skip() { n=$((n+1)); echo "ok $n # SKIP $1"; }
echo "1..34"

if ! MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/knobs.conf > "$T/fleet.out" 2>&1; then
  t 1 "knob fleet starts"; sed 's/^/# /' "$T/fleet.out"; exit 0
fi
t 0 "knob fleet starts"

"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
hosts = [json.loads(l) for l in open(f"{t}/fleet/manifest.jsonl")]
st = [f"{m['ip']}:{m['port']}" for m in hosts if m["mode"] == "starttls"]
open(f"{t}/targets", "w").write("\n".join(st) + "\n")
# B drops the modern server (always a success)
open(f"{t}/targets-b", "w").write("\n".join(x for x in st if x != "127.3.0.1:2525") + "\n")
PYEOF

# a zone of mail domains on the knob servers, for domain records
DNS=""
if command -v knotd >/dev/null 2>&1; then
  for x in $(seq 100 139); do ss -Hlun | grep -q "127\.0\.0\.$x:5356" || { DNS=127.0.0.$x; break; }; done
fi
if [ -n "$DNS" ]; then
  cat > "$T/report.zone" <<'EOF'
$ORIGIN report.test.
$TTL 300
@ IN SOA ns1.report.test. h.report.test. 1 3600 600 86400 300
@ IN NS ns1.report.test.
ns1 IN A 127.0.0.53
mx-modern IN A 127.3.0.1
mx-strip IN A 127.3.0.4
mx-absent IN A 127.3.0.20
mx-expired IN A 127.3.0.25
good IN MX 10 mx-modern.report.test.
strip IN MX 10 mx-strip.report.test.
mixed IN MX 10 mx-modern.report.test.
mixed IN MX 20 mx-absent.report.test.
expired IN MX 10 mx-expired.report.test.
nullmx IN MX 0 .
implicit IN A 127.3.0.10
EOF
  if scripts/dns.sh start "$T/dns" "$T/fleet/fleet.zone" "$T/report.zone" --listen "$DNS@5356" > "$T/dns.out" 2>&1; then
    printf '%s\n' knobs.fleet.test:2525 good.report.test:2525 strip.report.test:2525 mixed.report.test:2525 \
      expired.report.test:2525 nullmx.report.test:2525 implicit.report.test:2525 missing.report.test:2525 \
      > "$T/domains"
  else
    sed 's/^/# /' "$T/dns.out"; DNS=""
  fi
fi

# The scanner makes the fixture here (under `make asan` with leak detection on, like mxreport).
SCAN=("$BIN/mxscan" --allowlist 127.0.0.0/8 -q
  --mode starttls --banner-timeout 5 --timeout 5 --tls-timeout 3)
"${SCAN[@]}" --enum quick -i "$T/targets" -o "$T/a.ndjson.gz" 2> "$T/scan-a.err" &
PA=$!
if [ -n "$DNS" ]; then
  cat "$T/targets" "$T/domains" > "$T/targets-c"
  "${SCAN[@]}" --resolver "$DNS:5356" --ca-file "$T/fleet/certs/ca.pem" -i "$T/targets-c" -o "$T/c.ndjson.gz" 2> "$T/scan-c.err" &
else
  "${SCAN[@]}" --ca-file "$T/fleet/certs/ca.pem" -i "$T/targets" -o "$T/c.ndjson.gz" 2> "$T/scan-c.err" &
fi
PC=$!
wait $PA; ra=$?
"${SCAN[@]}" --enum quick -i "$T/targets-b" -o "$T/b.ndjson.gz" 2> "$T/scan-b.err"; rb=$?
wait $PC; rc=$?
[ $ra = 0 ] && [ $rb = 0 ] && [ $rc = 0 ] && [ -s "$T/a.ndjson.gz" ] && [ -s "$T/c.ndjson.gz" ]
t $? "three scans of the knob fleet written (exit $ra $rb $rc)"
if [ -n "$DNS" ]; then
  [ "$(zcat "$T/c.ndjson.gz" | grep -c '"type":"domain"')" = 8 ]; t $? "scan C has the 8 domain records"
else
  skip "knotd not available: no domain records"
fi

# ---- summary and json against independent counts ----
"$R" json "$T/c.ndjson.gz" > "$T/c.json"; r=$?
[ $r = 0 ]; t $? "json exits 0"
"$R" summary --top 0 "$T/c.ndjson.gz" > "$T/c.txt"; r=$?
[ $r = 0 ]; t $? "summary exits 0"

cat > "$T/expect.py" <<'PYEOF'
# Independent aggregates over mxscan records, compared with mxreport's json and text output.
import collections, gzip, json, re, sys

def records(paths):
    for p in paths:
        with open(p, "rb") as f:
            gz = f.read(2) == b"\x1f\x8b"
        with (gzip.open if gz else open)(p, "rt", encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except ValueError:
                    continue
                if isinstance(r, dict):
                    yield r

def expected(paths):
    recs = list(records(paths))
    H = [r for r in recs if r.get("type") == "host"]
    D = [r for r in recs if r.get("type") == "domain"]
    C = collections.Counter
    tls = lambda h: h.get("tls", {})
    e = {}
    e["status"] = (len(H), C(h.get("status", "(no status)") for h in H))
    ehlo = [h for h in H if h.get("mode") == "starttls" and "ehlo" in h.get("smtp", {})]
    e["starttls"] = (len(ehlo), C(h["smtp"].get("starttls", "unknown") for h in ehlo))
    en = [h for h in H if isinstance(tls(h).get("versions"), dict)]
    V = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    sup = lambda h, v: tls(h)["versions"].get(v, {}).get("supported") is True
    e["versions_supported"] = (len(en), C(v for h in en for v in V if sup(h, v)))
    e["best_version"] = (len(en), C(([v for v in V if sup(h, v)] or ["none"])[-1] for h in en))
    base = [h for h in H if isinstance(tls(h).get("baseline", {}).get("version"), str)]
    e["baseline_version"] = (len(base), C(h["tls"]["baseline"]["version"] for h in base))
    e["baseline_cipher"] = (len(base), C(h["tls"]["baseline"].get("cipher", "(no cipher)") for h in base))
    suites = C()
    for h in en:
        suites.update({c["name"] for v in V if sup(h, v) for c in tls(h)["versions"][v].get("ciphers", [])})
    e["suites"] = (len(en), suites)
    g = [h for h in H if isinstance(tls(h).get("groups"), list)]
    e["groups"] = (len(g), C(x for h in g for x in tls(h)["groups"]))
    gr = [h for h in H if isinstance(tls(h).get("least_grade"), str)]
    e["least_grade"] = (len(gr), C(h["tls"]["least_grade"] for h in gr))
    w = [h for h in H if isinstance(tls(h).get("warnings"), list)]
    e["warnings"] = (len(w), C(x for h in w for x in (tls(h)["warnings"] or ["(no warning)"])))
    hs = [h for h in H if isinstance(tls(h).get("handshake"), dict)]
    e["handshake"] = (len(hs), C(("ok " + x.get("version", "")) if x.get("ok") else "failed at " + x.get("failed_at", "?")
                                 for x in (tls(h)["handshake"] for h in hs)))
    cert = [h for h in H if isinstance(tls(h).get("certificate", {}).get("verify"), dict)]
    e["verify"] = (len(cert), C(f"{v['code']} {v.get('text', '')}" for v in (h["tls"]["certificate"]["verify"] for h in cert)))
    nm = lambda h: h["tls"]["certificate"].get("name_match", {}).get("mx")
    e["name_match_mx"] = (len(cert), C({True: "yes", False: "no"}.get(nm(h), "not checked (no MX name)") for h in cert))
    e["failures"] = (len(H), C(f"{h['failure']['stage']}: {h['failure']['reason']}" for h in H if "failure" in h))
    e["tampering"] = (len(H), C(k for h in H for k in h.get("smtp", {}).get("tampering", {}) if k != "evidence"))
    cap = [h for h in H if isinstance(h.get("capture", {}).get("verdict"), str)]
    e["capture"] = (len(cap), C(h["capture"]["verdict"] for h in cap))
    e["domain_mx_status"] = (len(D), C(d["mx_status"] + (" (implicit MX)" if d.get("implicit_mx") else "") for d in D))
    e["domain_tls"] = (len(D), C(d["verdict"].get("tls", "(not given)") for d in D))
    e["domain_starttls"] = (len(D), C(d["verdict"].get("starttls_offered", "(not given)") for d in D))
    dc = [d for d in D if d["verdict"].get("hosts_with_certificate", 0) > 0 or "certificate_trusted" in d["verdict"]]
    for tid, f in (("domain_trusted", "certificate_trusted"), ("domain_name_match_mx", "name_match_mx"),
                   ("domain_name_match_domain", "name_match_domain")):
        e[tid] = (len(dc), C(d["verdict"].get(f, "(not given)") for d in dc))
    wg = [d for d in D if "worst_grade" in d["verdict"]]
    e["domain_worst_grade"] = (len(wg), C(d["verdict"]["worst_grade"] for d in wg))
    conn = [h["probes"]["connections"] for h in H if isinstance(h.get("probes", {}).get("connections"), int)]
    facts = {"hosts": len(H), "domains": len(D), "conn_total": sum(conn), "conn_hosts": len(conn),
             "tampered": sum(1 for h in H if h.get("smtp", {}).get("tampering"))}
    return e, facts, H, D

def check_json(e, facts, js):
    bad = []
    for tid, (den, cnt) in e.items():
        t = js["tables"].get(tid)
        if t is None:
            bad.append(f"{tid}: missing"); continue
        got = {k: v for k, v in t["counts"].items() if v}
        if t["denominator"] != den:
            bad.append(f"{tid}: denominator {t['denominator']} != {den}")
        if got != dict(cnt):
            bad.append(f"{tid}: counts {got} != {dict(cnt)}")
    if js["records"]["host"] != facts["hosts"] or js["records"]["domain"] != facts["domains"]:
        bad.append("record counts")
    if js["connections"]["total"] != facts["conn_total"] or js["connections"]["hosts"] != facts["conn_hosts"]:
        bad.append(f"connections {js['connections']} vs {facts}")
    if js["tampered_hosts"] != facts["tampered"]:
        bad.append("tampered hosts")
    return bad

def check_text(js, text):
    """Every table of the JSON report appears in the text with the same title, denominator and rows."""
    bad, sections, cur = [], {}, None
    for line in text.splitlines():
        m = re.match(r"^(\S.*) \(of (\d+) (.*)\)$", line)
        if m:
            cur = sections.setdefault(m.group(1), {"den": int(m.group(2)), "rows": {}})
            continue
        m = re.match(r"^  (.+?)\s+(\d+)/(\d+)\s+([\d.]+)%$", line)
        if m and cur is not None:
            n, d = int(m.group(2)), int(m.group(3))
            if d != cur["den"] or abs(float(m.group(4)) - round(100.0 * n / d, 1)) > 0.05:
                bad.append(f"row {line!r}: share or denominator wrong")
            cur["rows"][m.group(1)] = n
    for tid, t in js["tables"].items():
        if tid.startswith("domain_") and js["records"]["domain"] == 0:
            continue
        s = sections.get(t["title"])
        if s is None:
            bad.append(f"text has no section '{t['title']}'"); continue
        if s["den"] != t["denominator"]:
            bad.append(f"{tid}: text denominator {s['den']} != {t['denominator']}")
        want = {k: v for k, v in t["counts"].items()} if t["denominator"] else {}
        if s["rows"] != want:
            bad.append(f"{tid}: text rows {s['rows']} != {want}")
    return bad

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "json":
        e, facts, H, D = expected(sys.argv[3:])
        bad = check_json(e, facts, json.load(open(sys.argv[2])))
    elif mode == "text":
        bad = check_text(json.load(open(sys.argv[2])), open(sys.argv[3], encoding="utf-8").read())
    for b in bad:
        print("# " + b)
    sys.exit(1 if bad else 0)
PYEOF

"$PY" "$T/expect.py" json "$T/c.json" "$T/c.ndjson.gz"; t $? "json: every table's denominator and counts equal independent counts (scan C)"
"$PY" "$T/expect.py" text "$T/c.json" "$T/c.txt"; t $? "summary: every table, denominator and row (n/d, share) equals the json report"
"$R" json "$T/a.ndjson.gz" > "$T/a.json" && "$PY" "$T/expect.py" json "$T/a.json" "$T/a.ndjson.gz"
t $? "json equals independent counts on the quick scan A too"
"$PY" - "$T/c.json" "$DNS" <<'PYEOF'
import json, sys
js = json.load(open(sys.argv[1])); t = js["tables"]
ok = (t["versions_supported"]["denominator"] > 0 and t["suites"]["denominator"] > 0 and t["least_grade"]["denominator"] > 0
      and t["verify"]["denominator"] > 0 and t["failures"]["counts"] and t["tampering"]["counts"]
      and t["starttls"]["counts"].get("stripped") == 1)
if sys.argv[2]:
    ok = ok and t["domain_mx_status"]["counts"].get("null-mx") == 1 and t["domain_mx_status"]["counts"].get("nxdomain") == 1 \
         and t["domain_name_match_domain"]["denominator"] > 0
print("# versions %s, verify %s, domains %s" % (t["versions_supported"]["counts"], t["verify"]["counts"], t["domain_mx_status"]["counts"]))
sys.exit(0 if ok else 1)
PYEOF
t $? "the fixture exercises versions, suites, grades, verify codes, failures, tampering, stripping (and domain cases)"
grep -q "^STARTTLS in the EHLO reply (of [0-9]* STARTTLS-mode hosts that answered EHLO)$" "$T/c.txt" &&
  grep -q "^TLS versions supported (of [0-9]* hosts whose versions were enumerated)$" "$T/c.txt" &&
  grep -q "^connections spent: [0-9]* in total, [0-9.]* per host (of [0-9]* hosts with probe counts)" "$T/c.txt"
t $? "summary states each denominator in words"

# several files are one scan: A and C together count as their sum
"$R" json "$T/a.ndjson.gz" "$T/c.ndjson.gz" > "$T/ac.json" && "$PY" "$T/expect.py" json "$T/ac.json" "$T/a.ndjson.gz" "$T/c.ndjson.gz"
t $? "two shards read as one scan: counts of both"
zcat "$T/c.ndjson.gz" | "$R" json > "$T/stdin.json" && cmp -s <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("inputs"); print(json.dumps(d))' "$T/stdin.json") \
  <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); d.pop("inputs"); print(json.dumps(d))' "$T/c.json")
t $? "plain NDJSON on standard input gives the same report as the gzip file"

# --by
"$R" summary --by provider --top 0 "$T/c.ndjson.gz" > "$T/by.txt" && "$R" json --by provider "$T/c.ndjson.gz" > "$T/by.json"
"$PY" - "$T/by.json" "$DNS" <<'PYEOF'
import json, sys
js = json.load(open(sys.argv[1])); g = js["by"]["groups"]
hosts = sum(x["hosts"] for x in g)
ok = js["by"]["key"] == "provider" and hosts == js["records"]["host"]
if sys.argv[2]:
    ok = ok and any(x["group"] == "fleet.test" for x in g) and any(x["group"] == "report.test" for x in g)
sys.exit(0 if ok else 1)
PYEOF
t $? "--by provider: groups add up to every host (MX-name suffixes fleet.test, report.test)"
"$R" summary --by country "$T/c.ndjson.gz" | grep -q "no geo data in records"; t $? "--by country says there is no geo data"

# ---- csv ----
"$R" csv "$T/c.ndjson.gz" > "$T/c.csv"; r=$?
"$PY" - "$T/c.csv" "$T/c.ndjson.gz" <<'PYEOF'
import csv, gzip, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
H = [r for r in (json.loads(l) for l in gzip.open(sys.argv[2], "rt")) if r["type"] == "host"]
hdr = "ip,port,mode,names,status,failure.stage,failure.reason,smtp.starttls,tls.baseline.version,tls.baseline.cipher,tls.least_grade,tls.warnings,tls.certificate.verify.code,tls.certificate.name_match.mx,probes.connections,geo.country,geo.asn".split(",")
ok = rows[0] == hdr and len(rows) == len(H) + 1 and all(len(r) == len(hdr) for r in rows)
for r, h in zip(rows[1:], H):
    want = [h["ip"], str(h["port"]), h["mode"], ";".join(h.get("names", [])), h["status"],
            h.get("failure", {}).get("stage", ""), h.get("failure", {}).get("reason", ""),
            h.get("smtp", {}).get("starttls", ""), h.get("tls", {}).get("baseline", {}).get("version", ""),
            h.get("tls", {}).get("baseline", {}).get("cipher", ""), h.get("tls", {}).get("least_grade", ""),
            ";".join(h.get("tls", {}).get("warnings", [])),
            str(h.get("tls", {}).get("certificate", {}).get("verify", {}).get("code", "")),
            {True: "true", False: "false"}.get(h.get("tls", {}).get("certificate", {}).get("name_match", {}).get("mx"), ""),
            str(h.get("probes", {}).get("connections", "")),
            h.get("geo", {}).get("country", ""), str(h.get("geo", {}).get("asn", ""))]
    if r != want:
        print("# row", r, "!=", want); ok = False
sys.exit(0 if ok else 1)
PYEOF
[ $? = 0 ] && [ $r = 0 ]; t $? "csv: header, one row per host record, every cell equals the record's field"
"$R" csv --fields ip,port,tls.versions.TLSv1.3.supported,smtp.ehlo "$T/c.ndjson.gz" > "$T/f.csv"
"$PY" - "$T/f.csv" "$T/c.ndjson.gz" <<'PYEOF'
import csv, gzip, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
H = [r for r in (json.loads(l) for l in gzip.open(sys.argv[2], "rt")) if r["type"] == "host"]
ok = rows[0] == ["ip", "port", "tls.versions.TLSv1.3.supported", "smtp.ehlo"] and len(rows) == len(H) + 1
for r, h in zip(rows[1:], H):
    v = h.get("tls", {}).get("versions", {}).get("TLSv1.3", {}).get("supported")
    if r[2] != {True: "true", False: "false"}.get(v, "") or r[3] != ";".join(h.get("smtp", {}).get("ehlo", [])):
        print("# row", r); ok = False
sys.exit(0 if ok else 1)
PYEOF
t $? "csv --fields: a member name with a dot (TLSv1.3) and an array joined with ';'"
if [ -n "$DNS" ]; then
  "$R" csv --type domain "$T/c.ndjson.gz" > "$T/d.csv"
  "$PY" - "$T/d.csv" "$T/c.ndjson.gz" <<'PYEOF'
import csv, gzip, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
D = [r for r in (json.loads(l) for l in gzip.open(sys.argv[2], "rt")) if r["type"] == "domain"]
ok = rows[0][:3] == ["domain", "rank", "mx_status"] and len(rows) == len(D) + 1
i = rows[0].index("mx.name")
for r, d in zip(rows[1:], D):
    if r[0] != d["domain"] or r[i] != ";".join(m["name"] for m in d["mx"]):
        print("# row", r); ok = False
sys.exit(0 if ok else 1)
PYEOF
  t $? "csv --type domain: one row per domain, mx.name lists every MX through the array"
else
  skip "knotd not available: no domain records"
fi

# ---- html ----
"$R" html "$T/c.ndjson.gz" datasets/report/hostile.ndjson -o "$T/r.html"; r=$?
[ $r = 0 ] && [ -s "$T/r.html" ]; t $? "html written with -o (records of C plus the hostile shard)"
"$PY" - "$T/r.html" <<'PYEOF'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "hr", "img", "input", "link", "rect", "line", "circle", "path"}
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.stack = []; self.errors = []; self.tags = set(); self.attrs = []
    def handle_starttag(self, tag, attrs):
        self.tags.add(tag); self.attrs += attrs
        if tag not in VOID: self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag); self.attrs += attrs
    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()
doc = open(sys.argv[1], encoding="utf-8").read()
p = P(); p.feed(doc); p.close()
bad = p.errors + ([f"unclosed {p.stack}"] if p.stack else [])
if "svg" not in p.tags: bad.append("no <svg>")
for tag in ("script", "img", "iframe", "link", "object", "b", "i"):
    if tag in p.tags: bad.append(f"<{tag}> element present (record text became markup)")
for k, v in p.attrs:
    if k.startswith("on"): bad.append(f"event handler attribute {k}")
    if k in ("src", "href") and not (v or "").startswith("#"): bad.append(f"{k}={v} loads something")
low = doc.lower()
for s in ("http://", "https://", "//cdn", "@import", "url("):
    if s in low: bad.append(f"external reference {s}")
if "&lt;script&gt;alert(1)&lt;/script&gt;" not in doc: bad.append("hostile status not shown escaped")
if any(c in doc for c in "\x1b\x07"): bad.append("control character in html")
for b in bad: print("# " + b)
sys.exit(1 if bad else 0)
PYEOF
t $? "html: tags balanced (html.parser), has <svg>, no http URL or external resource, hostile record text escaped"

"$R" summary "$T/c.ndjson.gz" datasets/report/hostile.ndjson > "$T/h.txt"
! LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f\x7f]' "$T/h.txt" && grep -q '<script>alert(1)</script>' "$T/h.txt"
t $? "summary: hostile labels printed without control characters"
"$R" csv --fields failure.reason,tls.versions.TLSv1.2.ciphers.name,tls.certificate.verify.text,smtp.tampering datasets/report/hostile.ndjson > "$T/h.csv"
"$PY" - "$T/h.csv" <<'PYEOF'
import csv, json, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
want = ["a\"b,c\nd & <i>e</i>", "TLS_\"quoted\",comma", "hostname <mismatch> & \"quotes\"",
        json.dumps({"banner_masked": True, "plaintext_after_starttls": "MAIL FROM:<a@b>\r\n"}, separators=(",", ":"))]
ok = len(rows) == 2 and rows[1] == want
if not ok: print("# got", rows)
sys.exit(0 if ok else 1)
PYEOF
t $? "csv: RFC 4180 quoting gives quotes, commas, CR/LF and JSON objects back intact"
"$R" json "$T/c.ndjson.gz" datasets/report/hostile.ndjson | "$PY" -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["tables"]["status"]["counts"]["<script>alert(1)</script>"] == 1 else 1)'
t $? "json: hostile label kept as data"

# ---- diff ----
"$R" diff --json "$T/a.ndjson.gz" "$T/b.ndjson.gz" > "$T/diff.json"; r=$?
"$PY" - "$T/diff.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
h = d["hosts"]
ok = [x["key"] for x in h["disappeared"]] == ["127.3.0.1:2525"] and h["appeared"] == [] and h["old"] == h["new"] + 1
ok = ok and h["disappeared"][0]["status"] == "success"
agg = {a["metric"]: a for a in d["aggregates"]}
ok = ok and agg["host records"]["old"]["count"] == h["old"] and agg["host records"]["new"]["count"] == h["new"]
print(f"# disappeared {[x['key'] for x in h['disappeared']]}, appeared {h['appeared']}, changed {len(h['changed'])}")
sys.exit(0 if ok else 1)
PYEOF
[ $? = 0 ] && [ $r = 0 ]; t $? "diff --json A B: exactly the removed host disappeared, nothing appeared"
"$R" diff "$T/a.ndjson.gz" "$T/b.ndjson.gz" > "$T/diff.txt"
grep -q '^  - disappeared 127.3.0.1:2525 (was success)$' "$T/diff.txt" && ! grep -q 'appeared    ' "$T/diff.txt" &&
  grep -Eq '^  STARTTLS offered +[0-9.]+% \([0-9]+/[0-9]+\) -> +[0-9.]+% \([0-9]+/[0-9]+\)' "$T/diff.txt"
t $? "diff text: the disappeared host, and STARTTLS offered old -> new with denominators"
"$R" diff "$T/a.ndjson.gz" "$T/c.ndjson.gz" > "$T/diff-ac.txt"
grep -q '^  ~ changed     127.3.0.1:2525: versions - -> TLSv1.3,TLSv1.2; least_grade - -> A' "$T/diff-ac.txt"
t $? "diff A C: quick -> full enumeration shows the versions and grade gained per host"

# ---- malformed input ----
zcat "$T/c.ndjson.gz" > "$T/m.ndjson"
"$PY" - "$T/m.ndjson" <<'PYEOF'
import sys
p = sys.argv[1]; lines = open(p).read().split("\n")
lines[4] = lines[4][: len(lines[4]) // 2]          # line 5 cut in half
lines.insert(7, '{"type":"host","status":"success",}')  # line 8: trailing comma
open(p, "w").write("\n".join(lines))
PYEOF
"$R" json "$T/m.ndjson" > "$T/m.json" 2> "$T/m.err"; r=$?
[ $r = 2 ]; t $? "malformed lines: exit status 2 (got $r)"
grep -q "m.ndjson:5: malformed record skipped" "$T/m.err" && grep -q "m.ndjson:8: malformed record skipped" "$T/m.err" &&
  grep -q "2 malformed lines skipped" "$T/m.err"
t $? "each malformed line reported with its line number and counted"
"$PY" "$T/expect.py" json "$T/m.json" "$T/m.ndjson" && "$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["inputs"]["malformed_lines"] == 2 else 1)' "$T/m.json"
t $? "the rest is processed: counts equal those of the well-formed lines"
head -c 3000 "$T/c.ndjson.gz" > "$T/cut.gz"
"$R" summary "$T/cut.gz" > /dev/null 2> "$T/cut.err"; r=$?
[ $r = 2 ] && grep -q "truncated gzip input" "$T/cut.err"; t $? "a truncated gzip file is reported (exit 2), records before the cut kept"

# ---- command line ----
"$R" --help > "$T/help"; r=$?
missing=""
for c in summary json html csv diff; do grep -q "^      mxreport $c " "$T/help" || missing="$missing $c"; done
[ $r = 0 ] && [ -z "$missing" ]; t $? "--help exits 0 and shows an example of each command${missing:+ (missing:$missing)}"
"$R" frobnicate x 2>/dev/null; [ $? = 1 ]; t $? "unknown command: exit 1"
"$R" summary --by planet "$T/a.ndjson.gz" 2>/dev/null >/dev/null; [ $? = 1 ]; t $? "bad --by value: exit 1"
"$R" diff "$T/a.ndjson.gz" 2>/dev/null; [ $? = 1 ]; t $? "diff with one input: exit 1"
"$R" summary "$T/a.ndjson.gz" > /dev/full 2>/dev/null; [ $? = 3 ]; t $? "output to a full device: exit 3"
