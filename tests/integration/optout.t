#!/usr/bin/env bash
# --optout FILE: opt-out requests are never contacted, whatever the allow-list
# says; the reason named is the file's comment. Targets are closed ports on
# 127.30.9.x (refused at once), so a contacted target shows as a host record.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-optout.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..5"
printf '# opt-out requests\n127.30.9.0/28   # opt-out 2026-11-01 postmaster@example.org\n127.30.9.77\n' > "$T/optout"
for a in $(seq 1 40) 77 78; do echo "127.30.9.$a:9"; done > "$T/in"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --optout "$T/optout" -i "$T/in" > "$T/o" 2> "$T/e"; t $? "scan with --optout exits 0"
hosts=$(grep -c '"type":"host"' "$T/o")
[ "$hosts" = 26 ]; t $? "42 targets, 16 opted out: 26 host records ($hosts)"
! grep -Eq '"ip":"127\.30\.9\.([0-9]|1[0-5]|77)"' "$T/o"; t $? "no record for an opted-out address (none contacted)"
grep -q '127.30.9.3 not scanned: opt-out 2026-11-01 postmaster@example.org' "$T/e"; t $? "the reason is the opt-out file's comment"
"$BIN/mxscan" --allowlist 127.0.0.0/8 --optout /nonexistent/optout 127.30.9.20:9 >/dev/null 2>"$T/e"
[ $? = 1 ] && grep -q -- '--optout: /nonexistent/optout' "$T/e"; t $? "a missing opt-out file is a configuration error (exit 1)"
