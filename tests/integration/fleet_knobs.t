#!/usr/bin/env bash
# TAP: every knob of the simulated fleet (bin/mxfleet), checked from outside with openssl s_client
# and bash /dev/tcp against datasets/fleet/knobs.conf (127.3.0.x, ports 2525 STARTTLS / 4465
# implicit TLS). Waits are bounded reads, never fixed sleeps. BIN selects the build (make asan sets
# BIN=build-asan/bin); under a sanitizer build the fleet's log must stay free of reports.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
CONF=$ROOT/datasets/fleet/knobs.conf
T=$(mktemp -d /tmp/fleet_knobs.XXXXXX)
D=$T/fleet
N=0
FAILED=0

cleanup() {
  "$ROOT/scripts/fleet.sh" stop "$D" >/dev/null 2>&1 || true
  "$ROOT/scripts/fleet.sh" stop "$T/pause" >/dev/null 2>&1 || true
  "$ROOT/scripts/fleet.sh" stop "$T/stall" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT

ok() { # ok COND-STATUS DESCRIPTION [DIAGNOSTIC]
  N=$((N + 1))
  if [ "$1" -eq 0 ]; then echo "ok $N - $2"; else
    echo "not ok $N - $2"; FAILED=$((FAILED + 1))
    [ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
  fi
}

# dialog IP PORT 'LINES' [SECONDS]: connect, send LINES (\r\n-terminated, pipelined), print what
# the server says (CR stripped) until it closes or stays silent for SECONDS (default 2).
dialog() {
  local fd line out="" t=${4:-2}
  exec {fd}<>"/dev/tcp/$1/$2" || return 1
  [ -n "$3" ] && printf '%b' "$3" >&"$fd"
  while IFS= read -r -t "$t" -u "$fd" line; do out+="${line%$'\r'}"$'\n'; done
  exec {fd}<&-
  printf '%s' "$out"
}

# first_line IP PORT: the first line the server sends.
first_line() {
  local fd line=""
  exec {fd}<>"/dev/tcp/$1/$2" || return 1
  IFS= read -r -t 5 -u "$fd" line
  exec {fd}<&-
  printf '%s' "${line%$'\r'}"
}

now_ms() { date +%s%3N; }

TESTS=40
echo "1..$TESTS"

if [ ! -x "$BIN/mxfleet" ]; then
  for i in $(seq $TESTS); do echo "ok $i # SKIP $BIN/mxfleet not built"; done
  exit 0
fi

"$ROOT/scripts/fleet.sh" start "$D" "$CONF" >"$T/start.out" 2>&1
ok $? "fleet starts and signals readiness" "$(cat "$T/start.out")"
CA=$D/certs/ca.pem

pairs=$(grep -c '"ip":' "$D/manifest.jsonl")
ok $([ "$pairs" -eq 54 ] && echo 0 || echo 1) "manifest has one line per address:port (54)" "got $pairs"

out=$(first_line 127.3.0.1 2525)
ok $([ "$out" = "220 mx1.knobs.fleet.test ESMTP knobs" ] && echo 0 || echo 1) "banner text with {name}" "$out"

out=$(dialog 127.3.0.2 2525 'QUIT\r\n')
ok $(printf '%s' "$out" | head -3 | tr '\n' '|' | grep -qx '220-mx2.knobs.fleet.test ESMTP knobs|220-mx2.knobs.fleet.test ESMTP knobs|220 mx2.knobs.fleet.test ESMTP knobs|' && echo 0 || echo 1) \
  "banner_lines = 3 gives a three-line 220" "$out"

out=$(dialog 127.3.0.1 2525 'EHLO t\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -qx '250 STARTTLS' && printf '%s' "$out" | grep -q '^221 ' && echo 0 || echo 1) \
  "EHLO advertises STARTTLS, QUIT gets 221" "$out"

out=$(dialog 127.3.0.1 2525 'EHLO t\r\nFROB\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nNOOP\r\nRSET\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -q '^500 5.5.2' && printf '%s' "$out" | grep -q '^250 2.1.0' &&
  printf '%s' "$out" | grep -q '^250 2.1.5' && printf '%s' "$out" | grep -q '^554 ' && echo 0 || echo 1) \
  "unknown command 500, MAIL/RCPT 250, DATA refused" "$out"

long=$(head -c 1500 /dev/zero | tr '\0' 'x')
out=$(dialog 127.3.0.1 2525 "$long\r\nNOOP\r\nQUIT\r\n")
ok $(printf '%s' "$out" | grep -q 'line too long' && printf '%s' "$out" | grep -q '^250 2.0.0 Ok' && echo 0 || echo 1) \
  "a 1500-byte line gets 500 and the session goes on" "$out"

out=$(dialog 127.3.0.3 2525 'EHLO t\r\nSTARTTLS\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -q '^454 4.7.0' && echo 0 || echo 1) "starttls = refuse454 answers 454" "$out"

out=$(dialog 127.3.0.4 2525 'EHLO t\r\nSTARTTLS\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -qx '250 XXXXXXXA' && ! printf '%s' "$out" | grep -q STARTTLS &&
  printf '%s' "$out" | grep -q '^500 ' && echo 0 || echo 1) "starttls = strip shows XXXXXXXA and 500s the command" "$out"

out=$(dialog 127.3.0.5 2525 'EHLO t\r\nSTARTTLS\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -qx '250 STARTTLS' && printf '%s' "$out" | grep -q '^500 5.5.1' && echo 0 || echo 1) \
  "starttls = error500 advertises STARTTLS but answers 500" "$out"

out=$(dialog 127.3.0.20 2525 'EHLO t\r\nSTARTTLS\r\nQUIT\r\n')
ok $(! printf '%s' "$out" | grep -q 'STARTTLS' && printf '%s' "$out" | grep -q '^502 ' && echo 0 || echo 1) \
  "starttls = absent: not advertised, 502" "$out"

# max_concurrent = 2: two sessions held open, the third gets 421.
exec {c1}<>/dev/tcp/127.3.0.6/2525; exec {c2}<>/dev/tcp/127.3.0.6/2525
IFS= read -r -t 5 -u "$c1" l1; IFS= read -r -t 5 -u "$c2" l2
out=$(first_line 127.3.0.6 2525)
exec {c1}<&- {c2}<&-
ok $([[ "$l1" == 220* && "$l2" == 220* && "$out" == 421* ]] && echo 0 || echo 1) \
  "max_concurrent = 2: third concurrent connection gets 421" "$l1 / $l2 / $out"

r1=$(first_line 127.3.0.22 2525); r2=$(first_line 127.3.0.22 2525); r3=$(first_line 127.3.0.22 2525)
ok $([[ "$r1" == 220* && "$r2" == 220* && "$r3" == 421* ]] && echo 0 || echo 1) \
  "rate = 2/60: third connection in the window gets 421" "$r1 / $r2 / $r3"

out=$(dialog 127.3.0.7 2525 'EHLO t\r\nSTARTTLS\r\n' 5)
ok $(printf '%s' "$out" | tail -1 | grep -q '^220 2.0.0' && echo 0 || echo 1) \
  "close_after_starttls: 220 then the server closes (no 5 s wait)" "$out"

out=$(dialog 127.3.0.8 2525 'EHLO t\r\nSTARTTLS\r\n' 1)
ok $(printf '%s\n' "$out" | tail -2 | tr '\n' '|' | grep -qx '220 2.0.0 Ready to start TLS|250 injected|' && echo 0 || echo 1) \
  "plaintext_after_220: 250 injected follows the 220" "$out"

# Real handshakes through wolfSSL.
out=$(echo | timeout 10 openssl s_client -starttls smtp -tls1_3 -connect 127.3.0.1:2525 -CAfile "$CA" -brief 2>&1)
ok $(printf '%s' "$out" | grep -q 'Protocol version: TLSv1.3' && printf '%s' "$out" | grep -q 'Ciphersuite: TLS_AES_128_GCM_SHA256' &&
  printf '%s' "$out" | grep -q 'Verification: OK' && echo 0 || echo 1) \
  "STARTTLS TLS 1.3 handshake, server's first suite, chain verifies with ca.pem" "$out"

out=$(echo | timeout 10 openssl s_client -starttls smtp -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 \
  -connect 127.3.0.10:2525 -CAfile "$CA" -brief 2>&1)
ok $(printf '%s' "$out" | grep -q 'Protocol version: TLSv1.2' && printf '%s' "$out" | grep -q 'Ciphersuite: ECDHE-RSA-AES256-GCM-SHA384' &&
  printf '%s' "$out" | grep -q 'Verification: OK' && echo 0 || echo 1) \
  "TLS 1.2 handshake honours server preference (AES256 before client's AES128)" "$out"

out=$(printf 'EHLO after\r\nQUIT\r\n' | timeout 10 openssl s_client -starttls smtp -connect 127.3.0.1:2525 -quiet -ign_eof 2>/dev/null | tr -d '\r')
ok $(printf '%s' "$out" | grep -q '^250-mx1.knobs.fleet.test greets after' && ! printf '%s' "$out" | grep -q '250.STARTTLS$' &&
  printf '%s' "$out" | grep -q '^221 ' && echo 0 || echo 1) \
  "EHLO over TLS works and no longer lists STARTTLS" "$out"

out=$(printf 'EHLO imp\r\nQUIT\r\n' | timeout 10 openssl s_client -connect 127.3.0.1:4465 -CAfile "$CA" -quiet -ign_eof 2>&1 | tr -d '\r')
ok $(printf '%s' "$out" | grep -q '^220 mx1.knobs.fleet.test ESMTP knobs' && printf '%s' "$out" | grep -q '^250 SMTPUTF8' && echo 0 || echo 1) \
  "implicit TLS port: handshake first, then the banner and EHLO over TLS" "$out"

out=$(echo | timeout 10 openssl s_client -starttls smtp -connect 127.3.0.26:2525 -CAfile "$CA" -brief 2>&1)
ok $(printf '%s' "$out" | grep -q 'Ciphersuite: TLS_AES_128_GCM_SHA256' && printf '%s' "$out" | grep -q 'Signature type: ECDSA' && echo 0 || echo 1) \
  "cert = ecdsa-p256 serves the ECDSA chain" "$out"

out=$(echo | timeout 10 openssl s_client -starttls smtp -connect 127.3.0.25:2525 -CAfile "$CA" 2>&1)
mcode=$(grep '"ip":"127.3.0.25","port":2525' "$D/manifest.jsonl" | grep -o '"verify":{"code":[0-9]*' | grep -o '[0-9]*$')
ok $(printf '%s' "$out" | grep -q 'verify error:num=10:certificate has expired' && [ "$mcode" = 10 ] && echo 0 || echo 1) \
  "cert = expired: openssl reports 10, as the manifest says" "manifest code '$mcode'; $out"

# Hand-built answers (tlsresp) for what wolfSSL cannot do. s_client then waits for a Finished that
# never comes, so it is stopped by timeout; stdbuf keeps its -trace output from being lost.
out=$(echo | timeout 3 stdbuf -o0 openssl s_client -starttls smtp -tls1 -cipher 'ALL:@SECLEVEL=0' -trace -connect 127.3.0.9:2525 2>&1)
ok $(printf '%s' "$out" | grep -q 'server_version=0x301 (TLS 1.0)' && printf '%s' "$out" | grep -q 'cipher_suite {0x00, 0x2F} TLS_RSA_WITH_AES_128_CBC_SHA' &&
  printf '%s' "$out" | grep -q 'ServerHelloDone' && echo 0 || echo 1) \
  "TLS 1.0 static-RSA ServerHello built by hand, with Certificate and ServerHelloDone" "$(printf '%s' "$out" | grep -E 'server_version|cipher_suite |Alert|error' | head)"

out=$(echo | timeout 3 stdbuf -o0 openssl s_client -starttls smtp -tls1 -cipher 'AES256-SHA:AES128-SHA:@SECLEVEL=0' -trace -connect 127.3.0.23:2525 2>&1)
ok $(printf '%s' "$out" | grep -q 'cipher_suite {0x00, 0x35} TLS_RSA_WITH_AES_256_CBC_SHA' && echo 0 || echo 1) \
  "preference = client: the client's first suite wins" "$(printf '%s' "$out" | grep -E 'cipher_suite |Alert|error' | head)"

out=$(echo | timeout 5 openssl s_client -starttls smtp -tls1_3 -connect 127.3.0.10:2525 2>&1)
ok $(printf '%s' "$out" | grep -q 'SSL alert number' && echo 0 || echo 1) \
  "TLS 1.2-only server answers a TLS 1.3-only hello with an alert" "$(printf '%s' "$out" | grep -i alert | head -3)"

out=$(echo | timeout 5 openssl s_client -starttls smtp -tls1_2 -connect 127.3.0.21:2525 2>&1)
ok $(printf '%s' "$out" | grep -qE 'errno=104|Connection reset' && echo 0 || echo 1) \
  "on_reject = reset: RST to an unacceptable hello" "$(printf '%s' "$out" | tail -3)"

# Hostile banners.
t0=$(now_ms)
out=$(timeout 6 head -c 10 </dev/tcp/127.3.0.11/2525)
dt=$(( $(now_ms) - t0 ))
ok $([ "$out" = "220 127.3." ] && [ "$dt" -ge 2000 ] && echo 0 || echo 1) \
  "trickle: 10 bytes at 250 ms/byte take >= 2 s" "got '$out' in $dt ms"

n=$(timeout 3 head -c 512 </dev/tcp/127.3.0.12/2525 | wc -c)
b=$(timeout 3 head -c 3 </dev/tcp/127.3.0.12/2525)
ok $([ "$n" -eq 512 ] && [ "$b" != 220 ] && echo 0 || echo 1) "garbage: 512 random bytes instead of a banner" "n=$n first='$b'"

out=$(timeout 5 head -n 50 </dev/tcp/127.3.0.13/2525 | tr -d '\r')
ok $([ "$(printf '%s\n' "$out" | grep -c '^220-')" -eq 50 ] && echo 0 || echo 1) \
  "endless: 50 continuation lines, no final 220" "$(printf '%s\n' "$out" | tail -2)"

n=$(timeout 5 head -c 300000 </dev/tcp/127.3.0.14/2525 | tr -d 'A' | wc -c)
ok $([ "$n" -eq 4 ] && echo 0 || echo 1) "huge_line: '220 ' then 300 kB without CRLF" "non-A bytes: $n"

out=$(dialog 127.3.0.15 2525 '' 5)
ok $([ "$out" = "421 4.3.2 127.3.0.15 Service not available, closing channel" ] && echo 0 || echo 1) \
  "banner_421: 421 greeting, then close" "$out"

out=$(dialog 127.3.0.16 2525 'EHLO t\r\nQUIT\r\n')
ok $(printf '%s' "$out" | tr '\n' '|' | grep -q '^554 5.7.1 .*|503 .*|221 ' && echo 0 || echo 1) \
  "banner_554: 554 greeting, 503 to EHLO, 221 to QUIT" "$out"

out=$(dialog 127.3.0.17 2525 'EHLO t\r\nHELO t\r\nQUIT\r\n')
ok $(printf '%s' "$out" | grep -q '^502 ' && printf '%s' "$out" | grep -qx '250 127.3.0.17' && echo 0 || echo 1) \
  "ehlo_refused: 502 to EHLO, HELO accepted" "$out"

exec {nc}<>/dev/tcp/127.3.0.18/2525
printf 'QUIT\r\n' >&"$nc"
IFS= read -r -t 5 -u "$nc" l1; IFS= read -r -t 5 -u "$nc" l2
IFS= read -r -t 1 -u "$nc" l3; rc=$?
exec {nc}<&-
ok $([[ "$l2" == 221* ]] && [ "$rc" -gt 128 ] && echo 0 || echo 1) \
  "never_close: 221 to QUIT, then the socket stays open" "l2='$l2' read rc=$rc (>128 = timeout, 1 = EOF)"

t0=$(now_ms)
out=$(first_line 127.3.0.19 2525)
dt=$(( $(now_ms) - t0 ))
ok $([[ "$out" == 220* ]] && [ "$dt" -ge 1400 ] && echo 0 || echo 1) "banner_delay_ms = 1500 delays the banner" "$dt ms"

# banner_pause_ms: a fleet of its own (127.38.61.1), so knobs.conf's counts stay as they are
printf '[personality pause]\nbanner_lines = 3\nbanner_pause_ms = 1500\nassign 127.38.61.1 pause ports=2525 implicit=none\n' \
  > "$T/pause.conf"
if "$ROOT/scripts/fleet.sh" start "$T/pause" "$T/pause.conf" >/dev/null 2>&1; then
  exec {pf}<>/dev/tcp/127.38.61.1/2525
  IFS= read -r -t 5 -u "$pf" p1
  t0=$(now_ms)
  IFS= read -r -t 5 -u "$pf" p2; IFS= read -r -t 5 -u "$pf" p3
  dt=$(( $(now_ms) - t0 ))
  exec {pf}<&-
  ok $([[ "$p1" == "220-127.38.61.1 "* && "$p2" == "220-"* && "$p3" == "220 127.38.61.1 "* ]] && [ "$dt" -ge 1400 ] &&
    echo 0 || echo 1) "banner_pause_ms = 1500: the first 220- line at once, the rest 1.5 s later" \
    "'$p1' '$p2' '$p3' after $dt ms"
  "$ROOT/scripts/fleet.sh" stop "$T/pause" >/dev/null 2>&1
else
  ok 1 "banner_pause_ms fleet starts" "$(cat "$T/pause/fleet.log" 2>/dev/null)"
fi

# handshake_stall_ms: a fleet of its own (127.39.61.1, implicit TLS): the server's first flight, then
# the stall, then the rest. TLS 1.2: the client has sent its Finished and waits for the server's
# ChangeCipherSpec/Finished; TLS 1.3: everything up to CertificateVerify, the server Finished withheld.
printf '[personality stall]\nports = 4465\nimplicit_ports = 4465\nversions = TLSv1.2 TLSv1.3\nsuites = modern\ncert = valid\nhandshake_stall_ms = 1500\nassign 127.39.61.1 stall\n' \
  > "$T/stall.conf"
if "$ROOT/scripts/fleet.sh" start "$T/stall" "$T/stall.conf" >/dev/null 2>&1; then
  for v in 1.2 1.3; do
    if [ "$v" = 1.2 ]; then mid='^>>> TLS 1.2, Handshake .*Finished'; else mid='^<<< TLS 1.3, Handshake .*CertificateVerify'; fi
    t0=$(now_ms)
    (sleep 2.5; echo) | timeout 10 openssl s_client -connect 127.39.61.1:4465 -tls${v/./_} -msg > "$T/stall$v.txt" 2>&1 &
    sp=$!
    for _ in $(seq 1 100); do grep -qE "$mid" "$T/stall$v.txt" && break; sleep 0.02; done
    at_mid=$(grep -cE "$mid" "$T/stall$v.txt"); fin_mid=$(grep -cE '^<<< TLS 1\.[23], Handshake .*Finished' "$T/stall$v.txt")
    dt_mid=$(( $(now_ms) - t0 ))
    wait "$sp"
    fin_end=$(grep -cE '^<<< TLS 1\.[23], Handshake .*Finished' "$T/stall$v.txt")
    # the server's Finished comes no earlier than the stall after the mid-handshake point
    ok $([ "$at_mid" -eq 1 ] && [ "$fin_mid" -eq 0 ] && [ "$dt_mid" -lt 1400 ] && [ "$fin_end" -eq 1 ] &&
      grep -q "^    Protocol  : TLSv$v" "$T/stall$v.txt" && echo 0 || echo 1) \
      "handshake_stall_ms = 1500, TLS $v: first flight at once, the server's Finished after the stall" \
      "mid=$at_mid after $dt_mid ms, server Finished then $fin_mid, at the end $fin_end; $(grep -E '^(<<<|>>>)' "$T/stall$v.txt" | grep -v RecordHeader | tr '\n' ';')"
  done
  "$ROOT/scripts/fleet.sh" stop "$T/stall" >/dev/null 2>&1
else
  ok 1 "handshake_stall_ms fleet starts" "$(cat "$T/stall/fleet.log" 2>/dev/null)"
  ok 1 "handshake_stall_ms fleet starts (TLS 1.3)"
fi

zone_ok=$(grep -c -E '^(mx1\.knobs[[:space:]]+IN[[:space:]]+A[[:space:]]+127\.3\.0\.1|knobs[[:space:]]+IN[[:space:]]+MX[[:space:]]+10 mx1\.knobs\.fleet\.test\.)$' "$D/fleet.zone")
ok $([ "$zone_ok" -eq 2 ] && echo 0 || echo 1) "zone file has the A and MX records" "$(cat "$D/fleet.zone")"

pid=$(cat "$D/fleet.pid")
"$ROOT/scripts/fleet.sh" stop "$D" >/dev/null 2>&1
# gone = no such process, or a zombie nobody reaps (a container's PID 1 may not)
st=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1)
ok $([ "${st:-Z}" = Z ] && [ ! -f "$D/fleet.pid" ] && echo 0 || echo 1) "fleet.sh stop ends the fleet" "state '$st'"

ok $( ! grep -qsE 'AddressSanitizer|LeakSanitizer|runtime error' "$D/fleet.log" "$T/stall/fleet.log" && echo 0 || echo 1) \
  "no sanitizer reports in the fleets' logs (knobs.conf, handshake_stall_ms)" "$(head -30 "$D/fleet.log" "$T/stall/fleet.log")"

[ $N -eq $TESTS ] || echo "# planned $TESTS, ran $N"
exit $((FAILED > 0))
