#!/usr/bin/env bash
# Memory per in-flight enumeration connection (issue 10's 4 KiB aim), measured, not asserted.
#
#   [PHASE=enum|enum-cert|greeting|mid-reply|handshake] [HS=tls12-rsa|tls12-ecdsa|tls13] scripts/bench-mem.sh [CONCURRENCY...]
#   (default: 1 1000 5000; PHASE=handshake: 1 500 1000)
#
# PHASE (default enum) picks where every connection is held while it is measured:
#   enum       mid-enumeration, ClientHello sent, waiting for the answer (described below);
#   enum-cert  the same against servers whose TLS 1.2 answer carries a certificate chain: each
#              held host also keeps the chain its probes saw (datasets/fleet/memholdcert.conf,
#              the same addresses as memhold.conf);
#   greeting   connected, waiting for a greeting that comes 10 min later, nothing received yet
#              (datasets/fleet/memgreet.conf, 127.38.0.0/16);
#   mid-reply  the first line of a two-line greeting ("220-...") received, the rest 10 min later,
#              like postfix postscreen's pause (datasets/fleet/memreply.conf, 127.38.0.0/16).
#   handshake  a full wolfSSL handshake held mid-way (datasets/fleet/memhs.conf, 127.39.0.0/16,
#              1,000 servers per HS variant, default tls12-rsa): mxscan runs `--enum quick` WITHOUT
#              --no-handshake, so per host the baseline probe and then the full handshake, which
#              the fleet holds after its first flight for 10 min (handshake_stall_ms). TLS 1.2: the
#              client has the certificates (parsed, not verified: verify.c decides offline after the
#              handshake) and has sent its Finished; TLS 1.3: it has everything up to
#              CertificateVerify, the server Finished is withheld.
# The greeting and mid-reply scans run the same mxscan command with --banner-timeout 300.
#
# Starts datasets/fleet/memhold.conf (5,000 servers on 127.36.0.0/16 that answer the baseline
# ClientHello and then never answer a hello they reject, so every enumeration probe waits for
# mxscan's --tls-timeout with its ClientHello sent), then for each concurrency C runs
# `mxscan --enum full --no-handshake -t 1 -c C` on all 5,000 servers (the same input every time,
# so the target list's memory cancels out), waits until
# C sockets are open and the baseline connections are over (every slot holds a probe connection
# mid-enumeration), samples /proc/PID/status (VmRSS, VmHWM) and /proc/PID/smaps (resident heap
# and anonymous mappings), and stops mxscan. Prints, per C, the figures and the bytes per held
# connection against C = the first value: (RSS(C) - RSS(first)) / (C - first). The full wolfSSL
# handshake is not made (--no-handshake) but in PHASE=handshake.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
[ -x "$BIN/mxscan" ] && [ -x "$BIN/mxfleet" ] || { echo "bench-mem.sh: build first (make)" >&2; exit 1; }
PHASE=${PHASE:-enum}
case "$PHASE" in
enum) CONF=memhold.conf ;;
enum-cert) CONF=memholdcert.conf ;;
greeting) CONF=memgreet.conf ;;
mid-reply) CONF=memreply.conf ;;
handshake) CONF=memhs.conf ;;
*) echo "bench-mem.sh: PHASE must be enum, enum-cert, greeting, mid-reply or handshake, not '$PHASE'" >&2; exit 2 ;;
esac
# the scan: enumeration held (--no-handshake), or one baseline probe and the held full handshake
SCAN=(--enum full --no-handshake)
HSRANGE=.
if [ "$PHASE" = handshake ]; then
	SCAN=(--enum quick)
	case "${HS:-tls12-rsa}" in
	tls12-rsa) HSRANGE='^127\.39\.[0-3]\.' ;;
	tls12-ecdsa) HSRANGE='^127\.39\.[4-7]\.' ;;
	tls13) HSRANGE='^127\.39\.([89]|1[01])\.' ;;
	*) echo "bench-mem.sh: HS must be tls12-rsa, tls12-ecdsa or tls13, not '$HS'" >&2; exit 2 ;;
	esac
fi
CONCS=("$@")
if [ ${#CONCS[@]} -eq 0 ]; then
	if [ "$PHASE" = handshake ]; then CONCS=(1 500 1000); else CONCS=(1 1000 5000); fi
fi
ulimit -n 20000
T=$(mktemp -d /tmp/bench-mem.XXXXXX)
mxpid=
cleanup() {
	[ -n "$mxpid" ] && kill -KILL "$mxpid" 2>/dev/null && wait "$mxpid" 2>/dev/null || true
	"$ROOT/scripts/fleet.sh" stop "$T/fleet" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
"$ROOT/scripts/fleet.sh" start "$T/fleet" "$ROOT/datasets/fleet/$CONF" >/dev/null ||
	{ cat "$T/fleet/fleet.log" >&2; echo "bench-mem.sh: the fleet did not start" >&2; exit 1; }
grep -o '"ip":"[^"]*","port":[0-9]*' "$T/fleet/manifest.jsonl" |
	sed 's/"ip":"\([^"]*\)","port":\([0-9]*\)/\1:\2/' | grep -E "$HSRANGE" > "$T/all.txt"
nall=$(wc -l < "$T/all.txt")

nsock() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 -lname 'socket:*' 2>/dev/null | wc -l; }
# smaps KB: resident [heap], resident anonymous mappings other than the heap and stacks
smaps_kb() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6) ? $6 : "anon" }
	     /^Rss:/ { if (name == "[heap]") heap += $2; else if (name == "anon") anon += $2 }
	     END { printf "%d %d\n", heap, anon }' "/proc/$1/smaps"
}

printf '%-6s %-8s %-9s %-9s %-9s %-9s %-11s %s\n' "-c" "sockets" "VmRSS kB" "VmHWM kB" "heap kB" "anon kB" "malloc B" \
	"per held connection vs the first -c: RSS (heap, other anonymous) / malloc'd"
first_rss=; first_c=; first_heap=; first_anon=
for c in "${CONCS[@]}"; do
	[ "$c" -le "$nall" ] || { echo "bench-mem.sh: -c $c needs $c servers, the fleet has $nall" >&2; exit 1; }
	"$BIN/mxscan" --allowlist 127.0.0.0/8 "${SCAN[@]}" -t 1 -c "$c" --tls-timeout 120 \
		--banner-timeout 300 --connect-timeout 60 -i "$T/all.txt" -o /dev/null 2> "$T/mx.err" &
	mxpid=$!
	# wait for c sockets open, then for the baselines to finish: the count of the fleet's
	# answered baselines is not visible from here, so wait until the RSS is stable for 2 s
	for _ in $(seq 1 600); do
		[ "$(nsock "$mxpid")" -ge "$c" ] && break
		sleep 0.1
	done
	prev=0; stable=0
	for _ in $(seq 1 120); do
		sleep 0.5
		r=$(awk '/^VmRSS/ {print $2}' "/proc/$mxpid/status")
		if [ "$r" = "$prev" ]; then stable=$((stable + 1)); else stable=0; fi
		prev=$r
		[ "$stable" -ge 4 ] && break
	done
	s=$(nsock "$mxpid")
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$mxpid/status")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$mxpid/status")
	read -r heap anon < <(smaps_kb "$mxpid")
	# malloc's own count of bytes in use (all arenas and mmap'd blocks: the slot array too),
	# when gdb can attach: malloc_stats() prints to mxscan's stderr
	inuse=
	if command -v gdb >/dev/null; then
		: > "$T/mx.err"
		gdb -p "$mxpid" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1 || true
		inuse=$(awk '/^Total/ { t = 1 } t && /in use bytes/ { print $NF; exit }' "$T/mx.err")
	fi
	kill -KILL "$mxpid"; wait "$mxpid" 2>/dev/null || true; mxpid=
	if [ -z "$first_rss" ]; then
		first_rss=$rss; first_c=$c; first_heap=$heap; first_anon=$anon; first_inuse=$inuse; per="-"
	else
		d=$((c - first_c))
		per=$(awk -v r="$((rss - first_rss))" -v h="$((heap - first_heap))" -v a="$((anon - first_anon))" -v d="$d" \
			-v m="${inuse:-0}" -v m0="${first_inuse:-0}" \
			'BEGIN { printf "%.0f B (%.0f B, %.0f B)", r * 1024 / d, h * 1024 / d, a * 1024 / d
				 if (m > 0 && m0 > 0) printf " / %.0f B", (m - m0) / d; else printf " / -" }')
	fi
	printf '%-6s %-8s %-9s %-9s %-9s %-9s %-11s %s\n' "$c" "$s" "$rss" "$hwm" "$heap" "$anon" "${inuse:--}" "$per"
done
