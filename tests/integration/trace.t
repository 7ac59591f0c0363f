#!/usr/bin/env bash
# --trace-probes: one trace entry per connection, each refusal classified
# (alert code, close, reset, timeout), counts consistent with probes.refusals,
# and --enum quick / versions spend the connections they promise; the
# chain fetch is made only when no handshake gave the chain.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/mxscan-trace.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; scripts/fleet.sh stop "$T/stall" >/dev/null 2>&1; rm -rf "$T"' EXIT
MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/knobs.conf >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - fleet"; exit 0; }
# modern (alert 40 on refusal), tls13reset (resets), legacy10 (TLS 1.0 only)
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --trace-probes --tls-timeout 3 \
  127.3.0.1:2525 127.3.0.21:2525 127.3.0.9:2525 > "$T/full.json"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --enum quick --no-handshake 127.3.0.1:2525 > "$T/quick.json"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --enum quick 127.3.0.1:2525 > "$T/quick-hs.json"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --enum versions --no-handshake --trace-probes 127.3.0.1:2525 > "$T/versions.json"
# a server whose full handshake fails (the server stalls after its first flight, past
# --tls-timeout) and whose last probe (fallback SCSV, alert 86) carried no chain: fetched again
printf '[personality stall]\nports = 2525\nversions = TLSv1.2 TLSv1.3\nsuites = modern\ncert = valid\nfallback_scsv = yes\nhandshake_stall_ms = 3000\nassign 127.39.62.1 stall\n' > "$T/stall.conf"
if MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/stall" "$T/stall.conf" >/dev/null 2>&1; then
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --trace-probes --tls-timeout 1 127.39.62.1:2525 > "$T/stall.json"
fi
"$PY" - "$T" <<'PYEOF'
import collections, json, sys, subprocess
t = sys.argv[1]
n = 0
def check(c, what):
    global n
    n += 1
    print(("ok" if c else "not ok") + f" {n} - {what}")
hosts = [json.loads(l) for l in open(f"{t}/full.json") if '"type":"host"' in l]
check(len(hosts) == 3, "three host records")
for r in hosts:
    tr = r["probes"].get("trace", [])
    ip = r["ip"]
    check(len(tr) == r["probes"]["connections"], f"{ip}: one trace entry per connection ({len(tr)})")
    check(tr and tr[0]["kind"] == "baseline", f"{ip}: the first probe is the baseline")
    hs = r["tls"].get("handshake")
    check((hs is not None) == (tr[-1]["kind"] == "handshake"), f"{ip}: the full handshake is the last connection when made")
    check(all(e["outcome"] != "alert" or "alert" in e for e in tr), f"{ip}: every alert carries its code")
    ends = collections.Counter(e["outcome"] for e in tr if e["outcome"] not in ("server-hello", "hello-retry-request"))
    refusals = r["probes"].get("refusals", {})
    check(all(refusals.get(k, 0) >= v for k, v in ends.items()), f"{ip}: refusal counts cover every refusing probe {dict(ends)}")
by = {r["ip"]: r for r in hosts}
check(any(e["outcome"] == "reset" for e in by["127.3.0.21"]["probes"]["trace"]), "a server that resets on refusal: resets classified as such")
check(any(e.get("alert") == 40 for e in by["127.3.0.1"]["probes"]["trace"]), "a server that refuses with alert 40: alert 40 recorded")
q = [json.loads(l) for l in open(f"{t}/quick.json") if '"type":"host"' in l][0]
check(q["probes"]["connections"] == 1 and "versions" not in q["tls"], "--enum quick --no-handshake: one connection, no enumeration")
qh = [json.loads(l) for l in open(f"{t}/quick-hs.json") if '"type":"host"' in l][0]
check(qh["probes"]["connections"] == 2 and qh["tls"]["handshake"]["ok"], "--enum quick: the probe plus the full handshake")
v = [json.loads(l) for l in open(f"{t}/versions.json") if '"type":"host"' in l][0]
check(v["tls"]["enumeration"] == "versions" and all("ciphers" not in d for d in v["tls"]["versions"].values()),
      "--enum versions: versions only")
# five probes, then (no handshake to give the chain) one more for the chain the TLS 1.2 probe saw
vt = v["probes"]["trace"]
check(v["probes"]["connections"] == len(vt) <= 6 and sum(e["kind"] != "chain" for e in vt) <= 5,
      f"--enum versions: at most 5 probes and a chain fetch ({v['probes']['connections']})")
check(vt[-1]["kind"] == "chain" and vt[-1]["outcome"] == "server-hello" and vt[-1]["version"] == "TLSv1.2"
      and v["tls"].get("certificate", {}).get("source") == "probe" and len(v["tls"]["certificate"]["chain"]) >= 1,
      "--enum versions --no-handshake: the chain fetched by a last probe")
check(sum(e["kind"] == "chain" for e in vt) == 1, "--enum versions --no-handshake: one chain fetch")
# TLS 1.0 only (no handshake): its last answer (compression) carried the chain: kept, no fetch
leg = by["127.3.0.9"]
check(leg["tls"]["certificate"]["source"] == "probe" and all(e["kind"] != "chain" for e in leg["probes"]["trace"]),
      "TLS 1.0 only, full enumeration: the last answer's chain kept, no fetch")
check(all(e["kind"] != "chain" for e in by["127.3.0.1"]["probes"]["trace"]), "with a handshake chain: no chain fetch")
try:
    st = [json.loads(l) for l in open(f"{t}/stall.json") if '"type":"host"' in l][0]
    stt = [e["kind"] for e in st["probes"]["trace"]]
except (OSError, IndexError):
    st, stt = None, []
check(st is not None and st["tls"]["handshake"]["ok"] is False and stt[-2:] == ["handshake", "chain"]
      and st["probes"]["trace"][-1]["outcome"] == "server-hello" and st["tls"]["certificate"]["source"] == "probe"
      and len(st["tls"]["certificate"]["chain"]) == 2,
      f"handshake failed, last probe without certificates: the chain fetched after the handshake {stt[-3:]}")
r = subprocess.run(["scripts/validate-records", f"{t}/full.json"], capture_output=True, text=True)
check(r.returncode == 0, "traced records valid against the schema")
print(f"1..{n}")
PYEOF
