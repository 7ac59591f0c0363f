#!/usr/bin/env bash
# resume.t: `mxscan --resume` after SIGKILL at random moments.
#
# A fleet on 127.32.1-3.x (a 40 ms banner delay keeps the scan a few seconds long at -c 4):
# 250 STARTTLS+TLS servers, 50 without STARTTLS, 50 addresses with nothing listening
# (refused). The same command, with --resume, is started and killed with SIGKILL at a random
# moment 5 times, then run to its end. The union must be the input: every target exactly once
# in the output, every certificate DER once, one scan_id throughout, every record valid.
# Then domains: a knot zone on 127.32.0.53 maps 40 domains to the fleet; a domain scan killed
# once mid-scan and resumed must end with every domain record and host record once, and the
# domains' verdicts equal to those of an uninterrupted scan (verdicts of hosts scanned before
# the kill come from their records).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-resume.XXXXXX)
cleanup() {
	scripts/fleet.sh stop "$T/fleet" >/dev/null 2>&1
	scripts/dns.sh stop "$T/dns" >/dev/null 2>&1
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..12"

cat > "$T/fleet.conf" <<'EOF'
[personality default]
ports = 2525
implicit_ports =
versions = TLSv1.2 TLSv1.3
suites = modern
cert = valid
real_handshake = no
banner_delay_ms = 40
idle_ms = 20000
linger_ms = 2000

[personality cheap]
assign 127.32.1.1-127.32.1.250 cheap name=mx{o}.resume.fleet.test

[personality cheap12]
versions = TLSv1.2
assign 127.32.1.251-127.32.1.254 cheap12 name=mx{o}.resume.fleet.test

[personality notls]
starttls = absent
assign 127.32.3.1-127.32.3.50 notls name=plain{o}.resume.fleet.test

domains d{n}.resume.fleet.test 1-30 10 mx{n}.resume.fleet.test 20 mx25{n}.resume.fleet.test
domains p{n}.resume.fleet.test 1-10 10 plain{n}.resume.fleet.test
domain t12.resume.fleet.test 10 mx251.resume.fleet.test 20 mx252.resume.fleet.test
EOF
# mx25{n} for n in 1..30 names hosts 251..2530: only 251-254 exist; the rest have no address.
scripts/fleet.sh start "$T/fleet" "$T/fleet.conf" >"$T/fleet.out" 2>&1
t $? "fleet on 127.32.x started"

{
	for i in $(seq 1 254); do echo "127.32.1.$i:2525"; done
	for i in $(seq 1 50); do echo "127.32.3.$i:2525"; done
	for i in $(seq 1 50); do echo "127.32.2.$i:2525"; done
} > "$T/targets.txt"
sort "$T/targets.txt" > "$T/expect.keys"

scan() { # scan OUT ARGS...: one run with --resume, output appended to OUT
	local out=$1
	shift
	# exec: the background job's PID is mxscan's own, so SIGKILL reaches the scanner
	exec "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --no-handshake --ca-file "$T/fleet/certs/ca.pem" \
		-c 4 --flush-records 7 --flush-secs 0.2 --connect-timeout 2 --resume -o "$out" "$@"
}

delays=""
for k in 1 2 3 4 5; do
	d=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.15 + (r % 70) / 100 }')
	delays="$delays $d"
	scan "$T/out.ndjson.gz" -i "$T/targets.txt" 2>>"$T/err" &
	pid=$!
	sleep "$d" # the random moment of the kill, not a wait for a server
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	echo "# kill $k after ${d}s: $(zcat "$T/out.ndjson.gz" 2>/dev/null | grep -c '"type":"host"') host records so far"
done
(scan "$T/out.ndjson.gz" -i "$T/targets.txt" 2>>"$T/err")
rc=$?
t $rc "final resumed run completes (exit $rc; kills after$delays s)"

zcat "$T/out.ndjson.gz" > "$T/out.ndjson" 2>"$T/zerr"
t $? "the output decompresses without error after 5 kills"
python3 - "$T/out.ndjson" "$T/expect.keys" > "$T/check" 2>&1 <<'EOF'
import json, sys, collections
recs = [json.loads(l) for l in open(sys.argv[1])]
expect = [l.strip() for l in open(sys.argv[2]) if l.strip()]
hosts = collections.Counter('%s:%d' % (r['ip'], r['port']) for r in recs if r['type'] == 'host')
certs = collections.Counter(r['sha256'] for r in recs if r['type'] == 'certificate')
ids = set(r['scan_id'] for r in recs)
dups = [k for k, c in hosts.items() if c > 1]
missing = sorted(set(expect) - set(hosts))
extra = sorted(set(hosts) - set(expect))
print('hosts', len(hosts), 'dups', len(dups), 'missing', len(missing), 'extra', len(extra), dups[:3], missing[:3], extra[:3])
print('certdups', sum(1 for c in certs.values() if c > 1), 'certs', len(certs))
print('scan_ids', len(ids))
status = collections.Counter(r['status'] for r in recs if r['type'] == 'host')
print('status', dict(sorted(status.items())))
resumed = [r for r in recs if r['type'] == 'scan' and r['event'] == 'start' and 'resume' in r]
print('resumed_starts', len(resumed), 'skipped', [r['resume']['skipped'] for r in resumed])
EOF
sed 's/^/# /' "$T/check"
grep -q "^hosts 354 dups 0 missing 0 extra 0 " "$T/check"
t $? "union of the runs = the input: 354 targets, each exactly once"
grep -q "^certdups 0 certs [1-9]" "$T/check"
t $? "each certificate DER written once across the runs"
grep -q "^scan_ids 1$" "$T/check"
t $? "one scan_id in every record of every run"
grep -q "^status {'application-error': 50, 'connection-refused': 50, 'success': 254}" "$T/check"
t $? "statuses as in the fleet: 254 success, 50 no STARTTLS, 50 refused"
scripts/validate-records "$T/out.ndjson" > "$T/val" 2>&1
t $? "every record valid against the schema (resume object included)"
[ "$(grep -c '"resume":{' "$T/out.ndjson")" -ge 2 ]
t $? "resumed runs say so in their scan records"

# --- domains ---
scripts/dns.sh start "$T/dns" "$T/fleet/fleet.zone" --listen 127.32.0.53@5353 >"$T/dns.out" 2>&1
t $? "knot on 127.32.0.53:5353 serves the fleet zone"
{
	for i in $(seq 1 30); do echo "d$i.resume.fleet.test:2525"; done
	for i in $(seq 1 10); do echo "p$i.resume.fleet.test:2525"; done
	echo "t12.resume.fleet.test:2525"
	echo "nx.resume.fleet.test:2525"
} > "$T/domains.txt"
dscan() {
	exec "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --no-handshake --ca-file "$T/fleet/certs/ca.pem" \
		-c 2 --flush-records 5 --flush-secs 0.2 --resolver 127.32.0.53:5353 --scan-id dom "$@" -i "$T/domains.txt"
}
(dscan -o "$T/ref.ndjson" 2>>"$T/err")
d=$(awk -v r="$RANDOM" 'BEGIN { printf "%.2f", 0.3 + (r % 40) / 100 }')
dscan --resume -o "$T/dom.ndjson.gz" 2>>"$T/err" &
pid=$!
sleep "$d" # the random moment of the kill
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
before=$(zcat "$T/dom.ndjson.gz" 2>/dev/null | grep -c '"type":"host"')
(dscan --resume -o "$T/dom.ndjson.gz" 2>>"$T/err")
zcat "$T/dom.ndjson.gz" > "$T/dom.ndjson"
python3 - "$T/ref.ndjson" "$T/dom.ndjson" > "$T/dcheck" 2>&1 <<'EOF'
import json, sys, collections
def load(p):
    recs = [json.loads(l) for l in open(p)]
    hosts = collections.Counter('%s:%d' % (r['ip'], r['port']) for r in recs if r['type'] == 'host')
    doms = collections.Counter(r['domain'] for r in recs if r['type'] == 'domain')
    verdict = {r['domain']: (r['mx_status'], json.dumps(r.get('verdict'), sort_keys=True)) for r in recs if r['type'] == 'domain'}
    return hosts, doms, verdict
rh, rd, rv = load(sys.argv[1])
h, d, v = load(sys.argv[2])
print('hosts', len(h), 'ref', len(rh), 'dups', sum(1 for c in h.values() if c > 1), 'same', set(h) == set(rh))
print('domains', len(d), 'ref', len(rd), 'dups', sum(1 for c in d.values() if c > 1), 'same', set(d) == set(rd))
diff = [k for k in rv if rv[k] != v.get(k)]
print('verdict_diffs', len(diff))
for k in diff[:3]:
    print('  ', k, rv[k], v.get(k))
EOF
sed 's/^/# /' "$T/dcheck"
echo "# domain scan killed after ${d}s with $before host records written"
grep -q "^domains 42 ref 42 dups 0 same True" "$T/dcheck" && grep -q "^hosts [1-9][0-9]* ref [1-9][0-9]* dups 0 same True" "$T/dcheck"
t $? "domains resumed: every domain record and host record exactly once"
grep -q "^verdict_diffs 0$" "$T/dcheck"
t $? "domain verdicts after the resume equal an uninterrupted scan's"
