#!/usr/bin/env bash
# badargs.t: bad invocations of mxscan give exactly one message line on stderr naming the
# problem, a non-zero exit status, and never change an existing output file (its SHA-256 is
# compared before and after every case). No case contacts anything: the only target is
# 127.32.9.9:1 (a port nothing listens on, in this test's own range), and every case fails
# before the scan.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-badargs.XXXXXX)
LOCKER=""
cleanup() {
	[ -n "$LOCKER" ] && kill "$LOCKER" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }

# An existing output with records in it (two gzip members), and a plain one.
printf '{"type":"scan","schema":"1","scan_id":"keep","event":"start"}\n' | gzip > "$T/out.ndjson.gz"
printf '{"type":"host","schema":"1","scan_id":"keep","ip":"127.32.9.8","port":25}\n' | gzip >> "$T/out.ndjson.gz"
printf '{"type":"scan","schema":"1","scan_id":"keep","event":"start"}\n' > "$T/plain.ndjson"
echo "127.32.9.9:1" > "$T/targets.txt"
echo "not a certificate" > "$T/notpem.pem"
printf 'this is not\nan MMDB file\n' > "$T/not.mmdb"
printf 'hello world, not records\n' > "$T/notrecords.ndjson"
mkdir "$T/adir"
sum() { sha256sum "$1" | cut -d' ' -f1; }

# case WORD EXPECTED_RC OUTPUT -- ARGS...: run mxscan ARGS (stdin from /dev/null); pass when
# the exit status is EXPECTED_RC (or any non-zero for "nz"), stderr is one line containing
# WORD (case-insensitive), and OUTPUT has the same SHA-256 as before.
case_() {
	local word=$1 want=$2 file=$3
	shift 4
	local before after rc lines
	before=$(sum "$file")
	"$BIN/mxscan" "$@" </dev/null >"$T/stdout" 2>"$T/stderr"
	rc=$?
	after=$(sum "$file")
	lines=$(wc -l < "$T/stderr")
	local ok=0
	if [ "$want" = nz ]; then [ $rc -ne 0 ] || ok=1; else [ $rc -eq "$want" ] || ok=1; fi
	[ "$lines" -eq 1 ] || ok=1
	grep -qi -- "$word" "$T/stderr" || ok=1
	[ "$before" = "$after" ] || ok=1
	[ -s "$T/stdout" ] && ok=1
	t $ok "$* -> exit $rc, one line naming '$word', $(basename "$file") unchanged"
	[ $ok -eq 0 ] || { echo "#   lines=$lines rc=$rc before=$before after=$after"; sed 's/^/#   stderr: /' "$T/stderr" | head -5; }
}

O=$T/out.ndjson.gz
A="--allowlist 127.32.0.0/16"
echo "1..27"
case_ "unknown option '--bogus'" 1 "$O" -- $A -o "$O" --bogus 127.32.9.9:1
case_ "unknown option '-z'" 1 "$O" -- $A -o "$O" -z 127.32.9.9:1
case_ "--no-handshake=1" 1 "$O" -- $A -o "$O" --no-handshake=1 127.32.9.9:1
case_ "'--port' needs a value" 1 "$O" -- $A -o "$O" 127.32.9.9:1 --port
case_ "'-o' needs a value" 1 "$O" -- $A 127.32.9.9:1 -o
case_ "--port expects a number" 1 "$O" -- $A -o "$O" --port 70000 127.32.9.9:1
case_ "--enum is quick" 1 "$O" -- $A -o "$O" --enum fast 127.32.9.9:1
case_ "--mode is auto" 1 "$O" -- $A -o "$O" --mode tls 127.32.9.9:1
case_ "--timeout expects seconds" 1 "$O" -- $A -o "$O" --timeout -3 127.32.9.9:1
case_ "cannot open input $T/missing.txt" 1 "$O" -- $A -o "$O" -i "$T/missing.txt"
case_ "input $T/adir is a directory" 1 "$O" -- $A -o "$O" -i "$T/adir"
case_ "--ca-file $T/missing.pem" 1 "$O" -- $A -o "$O" --ca-file "$T/missing.pem" 127.32.9.9:1
case_ "no certificate" 1 "$O" -- $A -o "$O" --ca-file "$T/notpem.pem" 127.32.9.9:1
case_ "blocklist" 1 "$O" -- $A -o "$O" --blocklist "$T/missing.conf" 127.32.9.9:1
case_ "neither a CIDR" 1 "$O" -- --allowlist nonsense -o "$O" 127.32.9.9:1
case_ "--resolver 'dns.example'" 1 "$O" -- $A -o "$O" --resolver dns.example 127.32.9.9:1
# Outputs that cannot be written (as root, permissions do not stop anything: paths under a
# missing directory, in /proc, or a directory) -- the existing file here is the input.
case_ "/nonexistent-dir/" 3 "$T/targets.txt" -- $A -i "$T/targets.txt" -o /nonexistent-dir/x.ndjson.gz
case_ "/proc/mxscan-x.gz" 3 "$T/targets.txt" -- $A -i "$T/targets.txt" -o /proc/mxscan-x.gz
case_ "is a directory" 1 "$T/targets.txt" -- $A -i "$T/targets.txt" -o "$T/adir"
# Conflicting options.
case_ "--append needs -o FILE" 1 "$O" -- $A --append -o - 127.32.9.9:1
case_ "--resume needs -o FILE" 1 "$O" -- $A --resume 127.32.9.9:1
case_ "same file" 1 "$T/targets.txt" -- $A -i "$T/targets.txt" -o "$T/targets.txt"
# Appending or resuming onto a file of the other format or not mxscan's.
cp "$T/plain.ndjson" "$T/plain-named.ndjson.gz"
case_ "cannot append gzip records to a non-gzip file" 3 "$T/plain-named.ndjson.gz" -- $A --append -o "$T/plain-named.ndjson.gz" 127.32.9.9:1
case_ "not mxscan records" 1 "$T/notrecords.ndjson" -- $A --resume -o "$T/notrecords.ndjson" 127.32.9.9:1
# A second scan on an output another mxscan is writing: refused, the file untouched.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "ab"); fcntl.flock(f, fcntl.LOCK_EX); print("locked", flush=True); time.sleep(30)' "$O" > "$T/locked" &
LOCKER=$!
for _ in $(seq 1 50); do [ -s "$T/locked" ] && break; sleep 0.1; done # bounded wait for the local lock
case_ "another process is writing" 3 "$O" -- $A -o "$O" 127.32.9.9:1
kill "$LOCKER" 2>/dev/null
wait "$LOCKER" 2>/dev/null
LOCKER=""
# A GeoIP database that is not an MMDB: only when this build has --geoip.
if "$BIN/mxscan" --help | grep -q -- '--geoip'; then
	case_ "mmdb" 1 "$O" -- $A -o "$O" --geoip "$T/not.mmdb" 127.32.9.9:1
else
	n=$((n + 1))
	echo "ok $n # SKIP --geoip is not in this build (issue 8)"
fi
# And the file is still what it was: both members readable.
[ "$(zcat "$O" | grep -c '"scan_id":"keep"')" = 2 ]
t $? "the existing output still holds its two records"
