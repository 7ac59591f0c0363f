#!/usr/bin/env bash
# hostile.t: the fleet's hostile personalities scanned together with healthy servers.
#
# Fleet on 127.32.10.x (hostile) and 127.32.11.x (healthy): a 1 byte/s trickle, endless
# continuation lines, a 1 MiB line, garbage, TLS records with lying lengths, a server that never
# closes, one that never answers the ClientHello, and an RST storm (20 addresses resetting every
# connection), next to TLS 1.3, TLS 1.2-only, client-preference TLS 1.0-1.3 servers and one
# without STARTTLS. One scan of all of them with short timeouts and --host-timeout must:
#  - end within a bound derived from the timeouts (host budget + the longest single connection);
#  - give every host the status, failure.stage and failure.reason of the fleet's manifest;
#  - give the healthy hosts the same results as a scan of the healthy hosts alone;
#  - keep mxscan's peak RSS (VmHWM) under 64 MiB.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-hostile.XXXXXX)
cleanup() {
	scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..8"

cat > "$T/fleet.conf" <<'EOF'
[personality default]
ports = 2525
implicit_ports =
versions = TLSv1.2 TLSv1.3
suites = modern
cert = valid
idle_ms = 60000
linger_ms = 10000

[personality modern]
assign 127.32.11.1-127.32.11.3 modern name=mx{o}.healthy.fleet.test
[personality tls12only]
versions = TLSv1.2
suites = TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
assign 127.32.11.4-127.32.11.5 tls12only name=mx{o}.healthy.fleet.test
[personality intermediate]
versions = TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3
suites = intermediate
preference = client
assign 127.32.11.6-127.32.11.7 intermediate name=mx{o}.healthy.fleet.test
[personality absent]
starttls = absent
assign 127.32.11.8 absent name=mx{o}.healthy.fleet.test

[personality trickle]
trickle = yes
trickle_ms = 1000
assign 127.32.10.1-127.32.10.3 trickle
[personality endless]
endless = yes
assign 127.32.10.4-127.32.10.6 endless
[personality huge]
huge_line = yes
assign 127.32.10.7-127.32.10.9 huge
[personality garbage]
garbage = yes
assign 127.32.10.10-127.32.10.12 garbage
[personality lying]
versions = TLSv1.2
suites = TLS_RSA_WITH_AES_128_CBC_SHA
lying_lengths = yes
assign 127.32.10.13-127.32.10.15 lying
[personality neverclose]
never_close = yes
assign 127.32.10.16-127.32.10.18 neverclose name=mx{o}.hostile.fleet.test
[personality silence]
versions = none
on_reject = silence
assign 127.32.10.19-127.32.10.20 silence
[personality rststorm]
reset = yes
assign 127.32.10.100-127.32.10.119 rststorm
EOF
scripts/fleet.sh start "$T/fleet" "$T/fleet.conf" >"$T/fleet.out" 2>&1
t $? "fleet of hostile and healthy servers on 127.32.10-11.x started"

python3 - "$T/fleet/manifest.jsonl" "$T" <<'EOF'
import json, sys
man = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2] + '/all.txt', 'w') as a, open(sys.argv[2] + '/healthy.txt', 'w') as h:
    for r in man:
        k = '%s:%d' % (r['ip'], r['port'])
        a.write(k + '\n')
        if r['ip'].startswith('127.32.11.'):
            h.write(k + '\n')
EOF

CONNECT=2 BANNER=6 CMD=3 TLS=3 HOST=10
OPTS=(--allowlist 127.32.0.0/16 -q --ca-file "$T/fleet/certs/ca.pem" -c 100 --connect-timeout "$CONNECT"
	--banner-timeout "$BANNER" --timeout "$CMD" --tls-timeout "$TLS" --host-timeout "$HOST")
# No new connection after HOST s; the last one lasts at most connect + banner + EHLO +
# STARTTLS + TLS deadlines (the full handshake's deadlines are the same); 3 s of slack.
BOUND=$((HOST + CONNECT + BANNER + 2 * CMD + TLS + 3))

"$BIN/mxscan" "${OPTS[@]}" -i "$T/healthy.txt" -o "$T/healthy.ndjson" 2>"$T/healthy.err"

start=$(date +%s.%N)
"$BIN/mxscan" "${OPTS[@]}" -i "$T/all.txt" -o "$T/all.ndjson" 2>"$T/all.err" &
pid=$!
hwm=0
while kill -0 "$pid" 2>/dev/null; do
	v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$v" ] && hwm=$v
	sleep 0.05 # sampling the peak RSS while the scan runs
done
wait "$pid"
rc=$?
wall=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
t $rc "scan of $(wc -l < "$T/all.txt") hosts, hostile ones included, exits 0"
echo "# wall ${wall} s (bound ${BOUND} s), peak RSS ${hwm} KiB"
awk -v w="$wall" -v b="$BOUND" 'BEGIN { exit !(w <= b) }'
t $? "the scan ends on time: ${wall} s <= ${BOUND} s"
[ "$hwm" -gt 0 ] && [ "$hwm" -lt 65536 ]
t $? "peak RSS ${hwm} KiB < 64 MiB (1 MiB lines, endless replies and RST storm included)"

python3 - "$T/fleet/manifest.jsonl" "$T/all.ndjson" "$T/healthy.ndjson" > "$T/check" 2>&1 <<'EOF'
import json, sys
man = {'%s:%d' % (r['ip'], r['port']): r for r in map(json.loads, open(sys.argv[1]))}
def hosts(p):
    return {'%s:%d' % (r['ip'], r['port']): r for r in map(json.loads, open(p)) if r['type'] == 'host'}
allh, healthy = hosts(sys.argv[2]), hosts(sys.argv[3])
print('hosts', len(allh), 'of', len(man), 'healthy', len(healthy))
bad = []
for k, m in sorted(man.items()):
    r = allh.get(k)
    e = m['expect']
    ef = e['failure'] or {}
    f = (r or {}).get('failure') or {}
    got = (r or {}).get('status'), f.get('stage'), f.get('reason')
    want = e['status'], ef.get('stage'), ef.get('reason')
    if got != want:
        bad.append((k, m['personality'], got, want))
print('expect_mismatch', len(bad))
for b in bad[:8]:
    print('  ', b)
def view(r):
    t = r.get('tls', {})
    c = t.get('certificate', {})
    hs = t.get('handshake', {})
    return json.dumps({
        'status': r['status'], 'failure': r.get('failure'),
        'starttls': r.get('smtp', {}).get('starttls'), 'caps': r.get('smtp', {}).get('capabilities'),
        'baseline': {x: t.get('baseline', {}).get(x) for x in ('version', 'cipher', 'group')},
        'versions': {v: (d.get('supported'), d.get('order'), [s['name'] for s in d.get('ciphers', [])])
                     for v, d in t.get('versions', {}).items()},
        'groups': t.get('groups'), 'least_grade': t.get('least_grade'), 'warnings': t.get('warnings'),
        'handshake': {x: hs.get(x) for x in ('ok', 'version', 'cipher', 'group')},
        'verify': c.get('verify', {}).get('code'), 'chain': [x.get('sha256') for x in c.get('chain', [])],
        'connections': r['probes']['connections'], 'host_timeout': r['probes'].get('host_timeout'),
    }, sort_keys=True)
diff = [k for k in healthy if k not in allh or view(healthy[k]) != view(allh[k])]
print('healthy_diffs', len(diff), 'of', len(healthy))
for k in diff[:3]:
    print('  alone:   ', view(healthy[k])[:300])
    print('  together:', view(allh[k])[:300] if k in allh else None)
to = [k for k, r in allh.items() if r['probes'].get('host_timeout')]
print('host_timeout', len(to), sorted(set(man[k]['personality'] for k in to)))
EOF
sed 's/^/# /' "$T/check"
grep -q "^hosts 48 of 48 healthy 8$" "$T/check"
t $? "one record per host (48), 8 healthy"
grep -q "^expect_mismatch 0$" "$T/check"
t $? "every host has the status, failure.stage and failure.reason its personality predicts"
grep -q "^healthy_diffs 0 of 8$" "$T/check"
t $? "healthy hosts' results equal those of a scan of the healthy hosts alone"
scripts/validate-records "$T/all.ndjson" > "$T/val" 2>&1
t $? "every record valid against the schema"
