#!/usr/bin/env bash
# The command line as a user meets it: help, version, selftest, exit codes,
# bad input lines (reported with line numbers, counted, scan goes on; --strict
# stops), the default blocklist (loopback refused without contact), the
# allow-list, IPv6, output errors.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=$(command -v python3)
T=$(mktemp -d /tmp/mxscan-cli.XXXXXX)
SRV_PID=""
trap '[ -n "$SRV_PID" ] && kill $SRV_PID 2>/dev/null; rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..19"

"$BIN/mxscan" --help > "$T/help"; t $? "--help exits 0"
grep -q '^Safety:' "$T/help" && grep -q '^Examples:' "$T/help" && grep -q 'Exit status' "$T/help"; t $? "--help is grouped, has examples and exit codes"
"$BIN/mxscan" --version | grep -q '^mxscan [0-9]'; t $? "--version"
"$BIN/mxscan" --selftest > "$T/st"; rc=$?
[ $rc = 0 ] && grep -q '^[0-9]* passed, 0 failed$' "$T/st"; t $? "--selftest passes"
"$BIN/mxscan" --bogus >/dev/null 2>&1; [ $? = 1 ]; t $? "unknown option exits 1"
"$BIN/mxscan" --port 70000 127.0.0.1 2>"$T/e" >/dev/null; [ $? = 1 ] && grep -q 'from 1 to 65535' "$T/e"; t $? "bad --port named with its range"
"$BIN/mxscan" --pcap-out "$T/x.pcap" 127.0.0.1 2>"$T/e" >/dev/null; [ $? = 1 ] && grep -q -- '--pcap-out needs --capture' "$T/e" && [ ! -e "$T/x.pcap" ]
t $? "--pcap-out without --capture refused (exit 1), no file created"

coproc SRV { exec "$PY" tests/integration/lib/slowsmtp.py 127.0.7.1,::1 2702 0 60; }
SRV_PID=$SRV_PID
read -r -t 10 line <&"${SRV[0]}"; [ "$line" = ready ]; t $? "test SMTP server ready on 127.0.7.1 and ::1"

# default blocklist: loopback is refused and never contacted
"$BIN/mxscan" 127.0.7.1:2702 '[::1]:2702' > "$T/o" 2> "$T/e"
! grep -q '"type":"host"' "$T/o" && grep -qi 'loopback' "$T/e" && grep -q '"blocked":2' "$T/o"; t $? "default blocklist refuses 127.0.7.1 and ::1 (no host record, reason shown)"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --allowlist ::1/128 -q 127.0.7.1:2702 '[::1]:2702' > "$T/o"
[ "$(grep -c '"banner":"220 slow.example.test ESMTP"' "$T/o")" = 2 ]; t $? "allow-list: both IPv4 and IPv6 hosts scanned"
grep -q '"ip":"::1"' "$T/o"; t $? "IPv6 address recorded"
# a more specific block inside an allowed range still blocks
printf '127.0.7.1/32  # test block\n' > "$T/bl"
"$BIN/mxscan" --blocklist "$T/bl" --allowlist 127.0.0.0/8 127.0.7.1:2702 > "$T/o" 2>"$T/e"
! grep -q '"type":"host"' "$T/o" && grep -q 'test block' "$T/e"; t $? "a /32 block inside an allowed /8 still blocks"

# bad input lines: reported with line numbers, counted, scan goes on, exit 2
printf '127.0.7.1:2702\nnot a target!\n# comment\n\n127.0.7.1:99999\n127.0.7.1:2702\n' > "$T/in"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -i "$T/in" > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 2 ]; t $? "invalid lines: exit status 2 (got $rc)"
grep -q "$T/in:2:" "$T/e" && grep -q "$T/in:5:" "$T/e"; t $? "each bad line reported with its line number"
[ "$(grep -c '"type":"host"' "$T/o")" = 1 ] && grep -q '"bad_lines":2' "$T/o" && grep -q '"duplicates":1' "$T/o"; t $? "valid target scanned once, 2 bad lines and 1 duplicate counted"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --strict -i "$T/in" > "$T/o" 2> "$T/e"; rc=$?
[ $rc = 4 ] && ! grep -q '"type":"host"' "$T/o"; t $? "--strict stops at the first bad line with exit 4"
# stdin input
echo "127.0.7.1:2702" | "$BIN/mxscan" --allowlist 127.0.0.0/8 -q | grep '"type":"host"' >/dev/null; t $? "targets from stdin"
# output that cannot be written
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -o /nonexistent/dir/x.gz 127.0.7.1:2702 2>"$T/e"; rc=$?
[ $rc = 3 ] && grep -q 'nonexistent' "$T/e"; t $? "unwritable output: exit 3 with the path named"
# gzip output readable, one member per flush
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -o "$T/o.ndjson.gz" 127.0.7.1:2702 && zcat "$T/o.ndjson.gz" | grep -q '"type":"host"'; t $? "-o FILE.gz writes gzip NDJSON"
