#!/usr/bin/env bash
# mxscan diagnose against datasets/fleet/diagnose.conf (one server per cause on
# 127.29.0.x) and its zone on a local knot (127.29.0.53:5353): for every cause,
# `diagnose --json` names that cause and no other, with the verdict and exit
# status it implies; the evidence is checked against the certificates, the
# fleet's manifest and the records; the text output carries the transcript,
# the problems and the sender table; --transcript records follow the schema
# and their bounds.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/mxscan-diag.XXXXXX); chmod 755 "$T"
trap 'scripts/dns.sh stop "$T/dns" >/dev/null 2>&1; scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
DNS=127.29.0.53
MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/diagnose.conf >/dev/null 2>&1 ||
  { echo "1..1"; echo "not ok 1 - fleet (127.29.0.x already in use?)"; exit 0; }
scripts/dns.sh start "$T/dns" "$T/fleet/fleet.zone" --listen "$DNS@5353" >/dev/null 2>&1 ||
  { echo "1..1"; echo "not ok 1 - dns on $DNS:5353"; exit 0; }
D=("$BIN/mxscan" diagnose --allowlist 127.0.0.0/8 --resolver "$DNS:5353" --ca-file "$T/fleet/certs/ca.pem"
   --banner-timeout 2)

# target | expected causes (space-separated, "-" = none) | verdict | exit status
cat > "$T/cases" <<'EOF'
ok.diag.fleet.test|-|healthy|0
mx.expired.diag.fleet.test|cert-expired|degraded|10
mx.notyet.diag.fleet.test|cert-not-yet-valid|degraded|10
mx.selfsigned.diag.fleet.test|cert-self-signed|degraded|10
mx.missingint.diag.fleet.test|cert-intermediate-missing|degraded|10
mx.wrongname.diag.fleet.test|cert-name-mismatch|degraded|10
mx.untrusted.diag.fleet.test|cert-untrusted|degraded|10
mx.weakcert.diag.fleet.test|cert-weak|degraded|10
mx.oldversions.diag.fleet.test|no-shared-version|broken|11
mx.nosuite.diag.fleet.test|no-shared-suite|broken|11
mx.weakonly.diag.fleet.test|weak-suites-only|broken|11
mx.nostarttls.diag.fleet.test|starttls-not-offered|broken|11
mx.closeafter.diag.fleet.test|starttls-handshake-failed|broken|11
mx.implicit587.diag.fleet.test:587|port-mode-mismatch|broken|11
mx.plain465.diag.fleet.test:465|port-mode-mismatch|broken|11
mx.strip.diag.fleet.test|starttls-stripped|broken|11
mx.throttle.diag.fleet.test|throttled-421|broken|11
mx.ratelimit.diag.fleet.test|throttled-421|degraded|10
twomx.diag.fleet.test|mx-unreachable|degraded|10
mx.refuse454.diag.fleet.test|starttls-refused|broken|11
mx.banner554.diag.fleet.test|smtp-failed|broken|11
nosuch.diag.fleet.test|dns|broken|11
127.29.0.9:25|starttls-not-offered|broken|11
EOF
i=0
while IFS='|' read -r target want verdict code; do
  i=$((i + 1))
  "${D[@]}" --json "$target" > "$T/d$i.json" 2> "$T/d$i.err"
  echo "$? $target|$want|$verdict|$code" > "$T/d$i.rc"
done < "$T/cases"
"${D[@]}" ok.diag.fleet.test > "$T/ok.txt" 2>&1; echo $? > "$T/ok.rc"
"${D[@]}" twomx.diag.fleet.test > "$T/twomx.txt" 2>&1
"${D[@]}" mx.plain465.diag.fleet.test:465 > "$T/plain465.txt" 2>&1
"${D[@]}" > /dev/null 2>&1; echo $? > "$T/noarg.rc"
"$BIN/mxscan" diagnose --json --resolver "$DNS:5353" ok.diag.fleet.test > "$T/blocked.json" 2>/dev/null; echo $? > "$T/blocked.rc"
"$BIN/mxscan" diagnose --help > "$T/help.txt" 2>&1
# records with --transcript (the 60-line greeting is cut at 40 lines)
printf '%s\n' 127.29.0.1,mx1.ok.diag.fleet.test 127.29.0.20,mx.longbanner.diag.fleet.test 127.29.0.9 127.29.0.99 \
  127.29.0.10,mx.closeafter.diag.fleet.test \
  | "$BIN/mxscan" --allowlist 127.0.0.0/8 --transcript -q --ca-file "$T/fleet/certs/ca.pem" -o "$T/rec.json"
scripts/validate-records "$T/rec.json" > "$T/validate.out" 2>&1; echo $? > "$T/validate.rc"
# --records: the same cause table on records of an earlier scan, and on the reset
# verdict of the capture (--capture writes capture.verdict "reset.<kind>" and capture.reasons) written into a record
"$BIN/mxscan" diagnose --json --records "$T/rec.json" > "$T/fromrec.json" 2>&1; echo $? > "$T/fromrec.rc"
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
for l in open(f"{t}/rec.json"):
    r = json.loads(l)
    if r.get("ip") == "127.29.0.10":
        r["failure"] = {"stage": "tls-hello", "reason": "reset", "detail": "Connection reset by peer"}
        for v, why in (("injected_suspected", "TTL 7 hops off the server's"), ("by_server", "TTL and IP ID follow the server's")):
            r["capture"] = {"interface": "lo", "verdict": "reset." + v, "reasons": [why]}
            open(f"{t}/reset-{v}.json", "w").write(json.dumps(r) + "\n")
PYEOF
for v in injected_suspected by_server; do
  "$BIN/mxscan" diagnose --json --records "$T/reset-$v.json" > "$T/reset-$v.out" 2>&1
done

"$PY" - "$T" <<'PYEOF'
import glob, json, re, subprocess, sys
t = sys.argv[1]
n = 0
def check(c, what, detail=""):
    global n
    n += 1
    print(("ok" if c else "not ok") + f" {n} - {what}" + ("" if c or not detail else f"  # {detail}"))
man = {(m["ip"], m["port"]): m for m in map(json.loads, open(f"{t}/fleet/manifest.jsonl"))}
res = {}
for rcf in sorted(glob.glob(f"{t}/d*.rc")):
    rc, rest = open(rcf).read().strip().split(" ", 1)
    target, want, verdict, code = rest.split("|")
    try:
        r = json.load(open(rcf[:-3] + ".json"))
    except Exception as e:
        check(False, f"{target}: JSON output", f"{e} {open(rcf[:-3] + '.err').read()[:200]}")
        continue
    res[target] = r
    want = [] if want == "-" else want.split()
    check(r["causes"] == want, f"{target}: names {want or 'no cause'} and no other", f"got {r['causes']}")
    check(r["verdict"] == verdict and int(rc) == int(code) and r["exit_status"] == int(code),
          f"{target}: verdict {verdict}, exit status {code}", f"got {r['verdict']}, exit {rc}")
    for h in r["hosts"]:
        for c in h["causes"]:
            if not (c["evidence"] and c["who"] and c["fix"] and c["title"]):
                check(False, f"{target}: {c['id']} has evidence, who and fix")

def host(target, ip=None):
    r = res.get(target, {"hosts": []})
    hs = [h for h in r["hosts"] if ip is None or h["ip"] == ip]
    return hs[0] if hs else {"causes": [], "profiles": {}, "transcript": []}
def ev(target, ip=None):
    h = host(target, ip)
    return h["causes"][0]["evidence"] if h["causes"] else ""

# evidence against independent sources
def enddate(variant, which="-enddate"):
    out = subprocess.run(["openssl", "x509", which, "-noout", "-in", f"{t}/fleet/certs/{variant}.crt"],
                         capture_output=True, text=True).stdout.split("=", 1)[1].strip()
    return subprocess.run(["date", "-u", "-d", out, "+%Y-%m-%dT%H:%M:%S"], capture_output=True, text=True).stdout.strip()
e = ev("mx.expired.diag.fleet.test")
check(enddate("expired") in e and "verify code 10" in e, "expired: evidence has openssl's notAfter and code 10", e)
e = ev("mx.notyet.diag.fleet.test")
check(enddate("not-yet-valid", "-startdate") in e and "verify code 9" in e, "not yet valid: openssl's notBefore", e)
e = ev("mx.wrongname.diag.fleet.test")
check("wrong.invalid" in e and "mx.wrongname.diag.fleet.test" in e, "name mismatch: the SANs and the MX name", e)
e = ev("mx.missingint.diag.fleet.test")
check("sent 1 certificate" in e, "missing intermediate: the server sent the leaf alone", e)
m = man[("127.29.0.7", 25)]["tls"]["versions"]
sup = sorted(v for v, x in m.items() if x["supported"])
e = ev("mx.oldversions.diag.fleet.test")
check(all(v in e for v in sup) and "TLSv1.2" not in e.split(";")[0], f"old versions: evidence lists {sup}", e)
m = man[("127.29.0.15", 25)]["tls"]["versions"]["TLSv1.2"]["ciphers"]
e = ev("mx.weakonly.diag.fleet.test")
check(all(c["name"] in e for c in m), "weak only: every TLS 1.2 suite of the manifest in the evidence", e)
e = ev("mx.nosuite.diag.fleet.test")
check("alert 40" in e and "anon" in e, "no shared suite: alert 40 and the server's suites", e)
check("XXXXXXXA" in ev("mx.strip.diag.fleet.test"), "stripped: the masked token", ev("mx.strip.diag.fleet.test"))
check(ev("mx.throttle.diag.fleet.test").count("421") == 1, "throttled: the 421 line", ev("mx.throttle.diag.fleet.test"))
e = ev("mx.ratelimit.diag.fleet.test")
p = host("mx.ratelimit.diag.fleet.test")["profiles"]
check("421" in e and "too many connections" in e and p.get("openssl3-default", {}).get("ok"),
      "rate limit: the 421 of a later connection; one-connection senders still get through", f"{e} {p}")
e = ev("mx.closeafter.diag.fleet.test")
check(re.search(r"closed|reset", e) is not None, "handshake failed: the step (close or reset) named", e)
e = ev("mx.implicit587.diag.fleet.test:587")
h = host("mx.implicit587.diag.fleet.test:587")
check("implicit TLS mode: TLS TLSv1.3" in e and h.get("other_mode", {}).get("mode") == "implicit",
      "implicit TLS on 587: proven by the implicit-mode scan", e)
e = ev("mx.plain465.diag.fleet.test:465")
h = host("mx.plain465.diag.fleet.test:465")
check(e.count("220 mx.plain465") == 1 and h.get("other_mode", {}).get("mode") == "starttls"
      and any(l.startswith("C: STARTTLS") for l in h["other_mode"]["transcript"]),
      "plaintext on 465: the greeting, then the STARTTLS-mode scan with its transcript", e)
tw = res.get("twomx.diag.fleet.test", {"hosts": [], "dns": {"mx": []}})
check([x["name"] for x in tw["dns"]["mx"]] == ["mx1.twomx.diag.fleet.test", "mx2.twomx.diag.fleet.test"]
      and host("twomx.diag.fleet.test", "127.29.0.16")["causes"] == []
      and "127.29.0.99 port 25: refused" in ev("twomx.diag.fleet.test", "127.29.0.99"),
      "two MX: the answering one has no problem, the closed one is unreachable")
check(tw.get("profiles", {}).get("openssl3-default", {}).get("via") == "127.29.0.16:25",
      "two MX: senders get through via the first MX")
r = res.get("mx.expired.diag.fleet.test", {})
check(r.get("kind", "").startswith("host without MX") and r.get("dns", {}).get("implicit_mx") is True,
      "a name without MX is diagnosed as its own host (implicit MX)")

# sender profiles from the enumeration
p = host("ok.diag.fleet.test")["profiles"]
check(p.get("modern-strict", {}).get("ok") and p.get("openssl3-default", {}).get("ok")
      and not p.get("legacy-tls10", {}).get("ok"), "healthy TLS 1.2/1.3 host: modern and OpenSSL 3 yes, TLS 1.0 client no", p)
p = host("mx.weakonly.diag.fleet.test")["profiles"]
check(not p["modern-strict"]["ok"] and not p["openssl3-default"]["ok"] and p["legacy-tls10"]["ok"]
      and "RC4" in p["legacy-tls10"]["detail"], "weak-only host: only the legacy client gets through (RC4)", p)
p = host("mx.oldversions.diag.fleet.test")["profiles"]
check(not p["openssl3-default"]["ok"] and p["legacy-tls10"]["ok"], "TLS 1.0/1.1 host: only the legacy client", p)
p = host("mx.expired.diag.fleet.test")["profiles"]
check(not p["modern-strict"]["ok"] and p["openssl3-default"]["ok"], "expired certificate: strict no, opportunistic yes", p)

# the text output
txt = open(f"{t}/ok.txt").read()
check(open(f"{t}/ok.rc").read().strip() == "0" and "S: 220 mx1.ok.diag.fleet.test" in txt and "C: EHLO" in txt
      and "C: STARTTLS" in txt and "TLS established: TLSv1.3" in txt and "would a sender get through?" in txt
      and "Verdict: healthy" in txt, "text: transcript (S:/C:), TLS, sender table, verdict")
txt = open(f"{t}/twomx.txt").read()
check("problem 1: the MX does not answer [mx-unreachable]" in txt and "who must fix it:" in txt
      and "fix:" in txt and "yes, via mx1.twomx.diag.fleet.test" in txt, "text: problem, who, fix, senders over all MX")
txt = open(f"{t}/plain465.txt").read()
check("same port in STARTTLS mode" in txt, "text: the other mode's transcript is shown")
check(open(f"{t}/noarg.rc").read().strip() == "1", "no target: exit 1")
b = json.load(open(f"{t}/blocked.json")) if open(f"{t}/blocked.rc").read().strip() == "1" else {}
check(b.get("verdict") == "unknown" and b.get("hosts") == [] and b.get("causes") == [],
      "without --allowlist the loopback MX is not scanned: verdict unknown, exit 1", b)
h = open(f"{t}/help.txt").read()
check("0 healthy" in h and "10 degraded" in h and "11 broken" in h, "--help documents the exit status")

# --transcript in scan records
check(open(f"{t}/validate.rc").read().strip() == "0", "--transcript records are valid", open(f"{t}/validate.out").read()[-300:])
recs = {r["ip"]: r for r in map(json.loads, open(f"{t}/rec.json")) if r.get("type") == "host"}
ok = recs.get("127.29.0.1", {}).get("smtp", {})
tr = ok.get("transcript", [])
check(tr[:2] == ["* connected to 127.29.0.1 port 25 (SMTP, STARTTLS)", "S: " + ok.get("banner", "?")]
      and ["S: " + l for l in ok.get("ehlo", [])] == tr[3:3 + len(ok.get("ehlo", []))],
      "transcript: the banner and EHLO lines are the record's, in order", tr[:4])
lb = recs.get("127.29.0.20", {}).get("smtp", {})
check(len(lb.get("transcript", [])) == 40 and lb.get("transcript_dropped", 0) > 20
      and all(len(l) <= 200 for r in recs.values() for l in r.get("smtp", {}).get("transcript", [])),
      "transcript bounded: 40 lines kept, the rest counted, lines at most 200 bytes",
      f"{len(lb.get('transcript', []))} {lb.get('transcript_dropped')}")
cl = recs.get("127.29.0.99", {}).get("smtp", {}).get("transcript", [])
check(any("refused" in l.lower() for l in cl), "transcript of a refused connection says so", cl)

# --records
try:
    fr = json.load(open(f"{t}/fromrec.json"))
    byip = {h["ip"]: [c["id"] for c in h["causes"]] for h in fr["hosts"]}
except Exception as e:
    fr, byip = {}, {"error": str(e)}
check(byip == {"127.29.0.1": [], "127.29.0.20": [], "127.29.0.9": ["starttls-not-offered"],
               "127.29.0.99": ["mx-unreachable"], "127.29.0.10": ["starttls-handshake-failed"]}
      and open(f"{t}/fromrec.rc").read().strip() == "10", "--records: the causes of a scan's records, per host", byip)
for v, want, word in (("injected_suspected", "reset-injected", "TTL 7 hops"), ("by_server", "starttls-handshake-failed", "server sent it")):
    try:
        r = json.load(open(f"{t}/reset-{v}.out"))
        got, e = r["causes"], r["hosts"][0]["causes"][0]["evidence"]
    except Exception as ex:
        got, e = str(ex), ""
    check(got == [want] and word in e, f"capture.verdict reset.{v}: names {want} alone, with the capture's reason", f"{got} {e}")
print(f"1..{n}")
PYEOF
