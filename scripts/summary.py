#!/usr/bin/python3
"""Plain-text summary of mxscan records (gzip or plain NDJSON): hosts, and
domains from the domain records (or, for scans of hosts, from an optional
domain -> MX table: domain<TAB>pref<TAB>mxhost). Every share states its
denominator. A stop-gap for the demo until mxreport (issue 8) exists."""
import collections, gzip, json, sys

def read(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    with (gzip.open if gz else open)(path, "rt") as f:
        for line in f:
            yield json.loads(line)

records = list(read(sys.argv[1]))
hosts = [r for r in records if r["type"] == "host"]
domain_recs = [r for r in records if r["type"] == "domain"]
mx = collections.defaultdict(list)
if len(sys.argv) > 2:
    for line in open(sys.argv[2]):
        d, pref, host = line.rstrip("\n").split("\t")
        mx[d].append(host)

def pct(a, b):
    return f"{a:5d}/{b:<5d} {100.0 * a / b:5.1f}%" if b else f"{a:5d}/0"

def table(title, counter, denom, unit):
    print(f"\n{title} (of {denom} {unit})")
    for k, v in counter.most_common():
        print(f"  {k:<46} {pct(v, denom)}")

n = len(hosts)
print(f"mxscan summary: {n} host records (IP:port), scan {hosts[0]['scan_id'] if hosts else '-'}")
table("status", collections.Counter(r["status"] for r in hosts), n, "hosts")
smtp = [r for r in hosts if r.get("mode") == "starttls" and "smtp" in r and "ehlo" in r["smtp"]]
table("STARTTLS in EHLO", collections.Counter(r["smtp"].get("starttls", "unknown") for r in smtp), len(smtp),
      "STARTTLS-mode hosts that answered EHLO")
tls = [r for r in hosts if r.get("tls", {}).get("baseline", {}).get("version")]
table("TLS version picked for the baseline hello", collections.Counter(r["tls"]["baseline"]["version"] for r in tls),
      len(tls), "hosts that answered with a ServerHello")
table("cipher suite picked", collections.Counter(r["tls"]["baseline"]["cipher"] for r in tls), len(tls),
      "hosts that answered with a ServerHello")
fails = [r for r in hosts if "failure" in r]
table("failures (stage: reason)", collections.Counter(f"{r['failure']['stage']}: {r['failure']['reason']}" for r in fails),
      n, "hosts")
tamper = [r for r in hosts if r.get("smtp", {}).get("tampering")]
if tamper:
    print(f"\ntampering evidence ({len(tamper)} hosts)")
    for r in tamper:
        print(f"  {r['ip']}:{r['port']} {','.join(r.get('names', []))}: {json.dumps(r['smtp']['tampering'])}")

if domain_recs:
    nd = len(domain_recs)
    table("domains: MX status", collections.Counter(d["mx_status"] + (" (implicit MX)" if d.get("implicit_mx") else "")
                                                    for d in domain_recs), nd, "domains")
    table("domains: MX hosts answering TLS", collections.Counter(d["verdict"]["tls"] for d in domain_recs), nd, "domains")
    table("domains: STARTTLS offered by MX", collections.Counter(d["verdict"]["starttls_offered"] for d in domain_recs),
          nd, "domains")
    graded = [d for d in domain_recs if "worst_grade" in d["verdict"]]
    table("domains: worst grade among their MX", collections.Counter(d["verdict"]["worst_grade"] for d in graded),
          len(graded), "graded domains")
elif mx:
    byname = collections.defaultdict(list)
    for r in hosts:
        for name in r.get("names", []):
            byname[name].append(r)
    verdict = collections.Counter()
    for d, hs in mx.items():
        states = []
        for h in hs:
            for r in byname.get(h, []):
                if r.get("port") == 25:
                    states.append(bool(r.get("tls", {}).get("baseline", {}).get("version")))
        if not hs or hs == ["."] or hs == [""]:
            verdict["null MX / no MX"] += 1
        elif not states:
            verdict["MX not scanned (no address)"] += 1
        elif all(states):
            verdict["all MX negotiate TLS on 25"] += 1
        elif any(states):
            verdict["some MX negotiate TLS on 25"] += 1
        else:
            verdict["no MX negotiates TLS on 25"] += 1
    table("domains", verdict, len(mx), "domains")
