#!/usr/bin/env bash
# Scan the knob fleet (datasets/fleet/knobs.conf: one server per SMTP/TLS knob,
# hostile ones included: trickle, endless continuation, 1 MiB line, garbage,
# lying TLS lengths, never-closing) in STARTTLS and implicit-TLS mode (TLS
# deadline 3 s, below the fleet's 5 s linger, so a lie ends in our timeout), and
# demand that every record matches the manifest's ground truth exactly: status,
# failure, baseline, and (full enumeration) every version's suites and order.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
T=$(mktemp -d /tmp/mxscan-knobs.XXXXXX); chmod 755 "$T"
trap 'scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1; rm -rf "$T"' EXIT
if ! MXFLEET="$BIN/mxfleet" scripts/fleet.sh start "$T/fleet" datasets/fleet/knobs.conf > "$T/fleet.out" 2>&1; then
  echo "1..1"; echo "not ok 1 - knob fleet did not start"; sed 's/^/# /' "$T/fleet.out"; exit 0
fi
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
# servers that allow only a few connections per minute are scanned with one
# connection each (--enum quick): a full enumeration would be turned away
for mode in ("starttls", "implicit"):
    with open(f"{t}/{mode}.txt", "w") as f, open(f"{t}/{mode}-limited.txt", "w") as g:
        for l in open(f"{t}/fleet/manifest.jsonl"):
            m = json.loads(l)
            if m["mode"] == mode:
                (g if m["smtp"].get("rate") else f).write(f"{m['ip']}:{m['port']}\n")
PYEOF
{
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls --banner-timeout 5 --timeout 5 --tls-timeout 3 -i "$T/starttls.txt"
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode implicit --tls-timeout 3 -i "$T/implicit.txt"
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --no-handshake --mode starttls --tls-timeout 3 -i "$T/starttls-limited.txt"
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --no-handshake --mode implicit --tls-timeout 3 -i "$T/implicit-limited.txt"
} > "$T/records.ndjson" 2> "$T/scan.err"
"$PY" tests/integration/lib/check_manifest.py "$T/fleet/manifest.jsonl" "$T/records.ndjson" "$BIN/mxscan"
