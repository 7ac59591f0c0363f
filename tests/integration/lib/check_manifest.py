#!/usr/bin/env python3
"""Compare mxscan host records with the fleet manifest's ground truth.

For every manifest entry (ip, port) there must be exactly one host record,
with the expected status and failure stage/reason; for servers reachable over
TLS the baseline version and suite must be the ones a server with that
personality picks from mxscan's baseline offer (computed here from the
manifest and `mxscan --list-baseline`, not copied from mxscan).
Prints TAP; exits 1 when anything differs."""
import gzip, json, subprocess, sys

manifest_path, records_path, mxscan = sys.argv[1], sys.argv[2], sys.argv[3]
VERS = ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0"]  # the baseline offers these, not SSLv3

offer = [int(l.split()[0], 16) for l in subprocess.run([mxscan, "--list-baseline"], check=True,
                                                        capture_output=True, text=True).stdout.split("\n") if l]
tls13 = [c for c in offer if 0x1300 <= c <= 0x13ff]

def expected_baseline(m):
    vers = m["tls"]["versions"]
    for v in VERS:
        info = vers.get(v, {})
        if not info.get("supported"):
            continue
        server = [int(c["code"], 16) for c in info["ciphers"]]
        cands = tls13 if v == "TLSv1.3" else [c for c in offer if c not in tls13]
        if info.get("order") == "client":
            pick = next((c for c in cands if c in server), None)
        else:
            pick = next((c for c in server if c in cands), None)
        if pick is None:
            return (None, None)  # no common suite at the best version: the server rejects
        return (v, "0x%04x" % pick)
    return (None, None)

opener = gzip.open if records_path.endswith(".gz") else open
recs = {}
with opener(records_path, "rt") as f:
    for line in f:
        r = json.loads(line)
        if r["type"] == "host" and "ip" in r:
            recs.setdefault((r["ip"], r["port"]), []).append(r)

n = fails = 0
def check(cond, what, detail=""):
    global n, fails
    n += 1
    if not cond:
        fails += 1
    print(("ok" if cond else "not ok") + f" {n} - {what}" + (f"  # {detail}" if not cond and detail else ""))
    return cond

for line in open(manifest_path):
    m = json.loads(line)
    key = (m["ip"], m["port"])
    tag = f"{m['ip']}:{m['port']} {m['personality']}"
    rs = recs.pop(key, [])
    if len(rs) != 1:
        check(False, f"{tag}: one record", f"{len(rs)} records")
        continue
    r = rs[0]
    exp = m["expect"]
    if exp.get("tls_reachable") and expected_baseline(m) == (None, None):
        # the baseline offer (TLS 1.0-1.3, no export/NULL/anon) shares nothing
        # with this server: it must refuse the way its personality says
        react = {"alert40": ("application-error", "tls-alert"), "alert70": ("application-error", "tls-alert"),
                 "close": ("connection-closed", "closed"), "reset": ("connection-closed", "reset"),
                 "silence": ("io-timeout", "timeout")}[m["tls"]["on_reject"]]
        exp = {"status": react[0], "failure": {"stage": "tls-hello", "reason": react[1]}, "tls_reachable": False}
    got_fail = r.get("failure") or {}
    want_fail = exp.get("failure") or {}
    reasons = {want_fail.get("reason")}
    if want_fail.get("stage") == "tls-hello" and want_fail.get("reason") == "closed":
        # a server that closes right after its 220 races our ClientHello: when the
        # hello lands on the closed socket, its kernel answers with RST, which
        # can reach us before (or instead of) the FIN
        reasons.add("reset")
    ok = r["status"] == exp["status"] and got_fail.get("stage") == want_fail.get("stage") \
        and got_fail.get("reason") in reasons
    check(ok, f"{tag}: status {exp['status']} {want_fail.get('stage','')} {want_fail.get('reason','')}",
          f"got {r['status']} {got_fail.get('stage')} {got_fail.get('reason')} {got_fail.get('detail','')}")
    if exp.get("tls_reachable"):
        v, c = expected_baseline(m)
        b = r.get("tls", {}).get("baseline", {})
        check((b.get("version"), b.get("cipher_code")) == (v, c), f"{tag}: baseline {v} {c}",
              f"got {b.get('version')} {b.get('cipher_code')} {b.get('cipher')}")
    # full enumeration: every version's support, accepted suites and the server's order
    limited = bool(m["smtp"].get("rate")) or bool(m["smtp"].get("max_concurrent"))
    if r.get("probes", {}).get("aborted"):
        # only a server that limits connections may cut the enumeration short
        check(limited, f"{tag}: enumeration aborted only for a connection-limited server")
    elif "versions" in r.get("tls", {}) and exp.get("tls_reachable") is not False and r["status"] == "success":
        got = r["tls"]["versions"]
        for v, info in m["tls"]["versions"].items():
            g = got.get(v, {})
            want_sup = bool(info.get("supported"))
            if not check(bool(g.get("supported")) == want_sup, f"{tag}: {v} supported={want_sup}",
                         f"got {g.get('supported')}"):
                continue
            if not want_sup:
                continue
            want = [c["code"] for c in info["ciphers"]]
            have = [c["code"] for c in g.get("ciphers", [])]
            if info.get("order") == "server" and len(want) > 1:
                check(have == want, f"{tag}: {v} {len(want)} suites in the server's order",
                      f"got {have} want {want}")
                check(g.get("order") == "server", f"{tag}: {v} order server", f"got {g.get('order')}")
            else:
                check(sorted(have) == sorted(want), f"{tag}: {v} {len(want)} suites",
                      f"missing {sorted(set(want) - set(have))} extra {sorted(set(have) - set(want))}")
                if len(want) > 1:
                    check(g.get("order") == "client", f"{tag}: {v} order client", f"got {g.get('order')}")
    # certificate verification: the code openssl verify gave for the variant
    cert = m.get("tls", {}).get("certificate")
    got_cert = r.get("tls", {}).get("certificate")
    if cert and got_cert and r.get("names"):
        want_code = cert["verify"]["code"]
        check(got_cert["verify"]["code"] == want_code, f"{tag}: certificate {cert['variant']}: verify code {want_code}",
              f"got {got_cert['verify']['code']} {got_cert['verify']['text']}")
for key, rs in recs.items():
    check(False, f"record for {key} that the manifest does not list")
print(f"1..{n}")
sys.exit(1 if fails else 0)
