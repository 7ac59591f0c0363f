#!/usr/bin/env bash
# TAP: the loopback test peers and the oracles behave as configured.
# Starts knot (scripts/dns.sh), postfix default/tls12/legacy (scripts/peers/postfix.sh) and exim
# with an RC4/3DES GnuTLS priority (scripts/peers/exim.sh) on 127.0.X.{1,2,3,4}, non-privileged
# ports, then checks them with dig, scripts/oracle-nmap.sh and scripts/oracle-openssl.sh.
# Everything is stopped by pid on exit. Needs root (postfix/exim drop privileges).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root"; exit 0; fi
for t in knotd dig postfix nmap xmllint openssl runuser; do
  command -v "$t" >/dev/null || { echo "1..0 # SKIP $t not installed (scripts/deps.sh --with-peers)"; exit 0; }
done

T0=$(date +%s.%N)
TMP=$(mktemp -d /tmp/peers_selfcheck.XXXXXX)
chmod 755 "$TMP"   # postfix and Debian-exim must reach their directories below it
started=()         # "kind dir" pairs, stopped in reverse order on exit
cleanup() {
  local i kind dir
  for ((i = ${#started[@]} - 1; i >= 0; i--)); do
    read -r kind dir <<<"${started[$i]}"
    case "$kind" in
      dns) "$ROOT/scripts/dns.sh" stop "$dir" >/dev/null 2>&1 || echo "# cleanup: dns.sh stop $dir failed" ;;
      postfix) "$ROOT/scripts/peers/postfix.sh" stop "$dir" >/dev/null 2>&1 || echo "# cleanup: postfix.sh stop $dir failed" ;;
      exim) "$ROOT/scripts/peers/exim.sh" stop "$dir" >/dev/null 2>&1 || echo "# cleanup: exim.sh stop $dir failed" ;;
    esac
  done
  started=()
  if [ "${KEEP_TMP:-}" = 1 ]; then echo "# kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

N=0 FAILED=0
ok() { # ok CONDITION-STATUS DESCRIPTION
  N=$((N + 1))
  if [ "$1" = 0 ]; then echo "ok $N - $2"; else echo "not ok $N - $2"; FAILED=$((FAILED + 1)); fi
}
check() { # check DESCRIPTION COMMAND... (ok when COMMAND succeeds)
  local d=$1; shift
  if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}
elapsed() { echo "$(date +%s.%N) $1" | awk '{printf "%.2f", $1 - $2}'; }

# shellcheck disable=SC2016  # $0/$1 are expanded by the inner bash
port_free() { ! timeout 1 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null; }

# A /24 nobody else is using right now (other test runs may share the machine).
NET=""
for i in $(seq 0 40); do
  o=$(( (($$ + i) % 120) + 120 ))
  if port_free "127.0.$o.53" 5353 && port_free "127.0.$o.1" 2525 && port_free "127.0.$o.2" 2525 &&
     port_free "127.0.$o.3" 2525 && port_free "127.0.$o.4" 2525; then NET=127.0.$o; break; fi
done

echo "1..22"
[ -n "$NET" ] || { echo "Bail out! no free 127.0.X.0/24 found"; exit 1; }
echo "# using $NET.0/24, temp dir $TMP"
PS=2525 PI=2465
RC4PRIO='NONE:+VERS-TLS1.0:+VERS-TLS1.2:+RSA:+ECDHE-RSA:+3DES-CBC:+ARCFOUR-128:+AES-128-CBC:+SHA1:+COMP-NULL:+SIGN-ALL:+CURVE-ALL'

# --- certificates: CA -> intermediate -> leaf (self-contained; not scripts/certs.sh) ---
C=$TMP/certs
mkcerts() {
  mkdir -p "$C" && cd "$C" || return 1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=Selfcheck Root" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
  openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj "/CN=Selfcheck Int" &&
  printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n' > int.ext &&
  openssl x509 -req -in int.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out int.crt -days 30 -extfile int.ext &&
  openssl req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj "/CN=mx1.example.test" &&
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:mx1.example.test,DNS:*.example.test,IP:127.0.0.1\n' > leaf.ext &&
  openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -CAcreateserial -out leaf.crt -days 30 -extfile leaf.ext
}
(mkcerts) >"$TMP/certs.log" 2>&1 || { sed 's/^/# /' "$TMP/certs.log"; echo "Bail out! certificate generation failed"; exit 1; }

# --- zone ---
mkdir -p "$TMP/zones"
cat > "$TMP/zones/example.test.zone" <<EOF
\$ORIGIN example.test.
\$TTL 300
@ IN SOA ns1.example.test. hostmaster.example.test. 2026010101 3600 600 86400 300
@ IN NS ns1.example.test.
ns1 IN A $NET.53
@ IN MX 10 mx1.example.test.
@ IN MX 20 mx2.example.test.
@ IN MX 30 mx3.example.test.
mx1 IN A $NET.1
mx2 IN A $NET.2
mx3 IN A $NET.3
mx4 IN A $NET.4
nullmx IN MX 0 .
EOF

# start_peer KIND DIR DESCRIPTION COMMAND...: run, time it, remember it for cleanup.
start_peer() {
  local kind=$1 dir=$2 desc=$3 t rc=0; shift 3
  t=$(date +%s.%N)
  "$@" >"$TMP/$kind-$(basename "$dir").log" 2>&1 || rc=$?
  started+=("$kind $dir")
  ok $rc "$desc starts ($(elapsed "$t") s)"
  [ $rc = 0 ] || sed 's/^/# /' "$TMP/$kind-$(basename "$dir").log"
}

start_peer dns "$TMP/dns" "knot on $NET.53@5353" \
  "$ROOT/scripts/dns.sh" start "$TMP/dns" "$TMP/zones/example.test.zone" --listen "$NET.53@5353"
start_peer postfix "$TMP/pf-default" "postfix default on $NET.1" \
  "$ROOT/scripts/peers/postfix.sh" start "$TMP/pf-default" mx1.example.test "$NET.1" $PS $PI "$C" default
start_peer postfix "$TMP/pf-tls12" "postfix tls12 on $NET.2" \
  "$ROOT/scripts/peers/postfix.sh" start "$TMP/pf-tls12" mx2.example.test "$NET.2" $PS $PI "$C" tls12
start_peer postfix "$TMP/pf-legacy" "postfix legacy on $NET.3" \
  "$ROOT/scripts/peers/postfix.sh" start "$TMP/pf-legacy" mx3.example.test "$NET.3" $PS $PI "$C" legacy
start_peer exim "$TMP/exim-rc4" "exim RC4/3DES on $NET.4" \
  "$ROOT/scripts/peers/exim.sh" start "$TMP/exim-rc4" "$NET.4" $PS $PI "$C" "$RC4PRIO"

# --- DNS ---
mx=$(dig @"$NET.53" -p 5353 +short +time=2 +tries=1 MX example.test 2>&1 | sort -n | tr '\n' ' ') || true
check "dig MX example.test lists mx1/mx2/mx3 in order" \
  test "$mx" = "10 mx1.example.test. 20 mx2.example.test. 30 mx3.example.test. "
a=$(dig @"$NET.53" -p 5353 +short +time=2 +tries=1 A mx1.example.test 2>&1) || true
check "dig A mx1.example.test = $NET.1" test "$a" = "$NET.1"

# --- oracles ---
nm() { # nm NAME IP PORT MODE: run oracle-nmap into $TMP/NAME.nmap
  "$ROOT/scripts/oracle-nmap.sh" "$2" "$3" "$4" >"$TMP/$1.nmap" 2>"$TMP/$1.nmap.err" ||
    { sed 's/^/# /' "$TMP/$1.nmap.err"; return 1; }
}
os() { # os IP PORT MODE [args]: print PROTOCOL<TAB>CIPHER or nothing
  "$ROOT/scripts/oracle-openssl.sh" "$@" 2>/dev/null || true
}
has() { grep -q -x -F "$(printf '%s\t%s' "$2" "$3")" "$TMP/$1.nmap"; }
versions() { { grep -E '^(SSLv3|TLSv1\.[0-3])'$'\t' "$TMP/$1.nmap" || true; } | cut -f1 | sort -u | tr '\n' ' '; }

r=$(os "$NET.1" $PS starttls)
check "openssl: default postfix STARTTLS negotiates TLSv1.3 (${r//$'\t'/ })" test "${r%%$'\t'*}" = TLSv1.3
r=$(os "$NET.1" $PI implicit)
check "openssl: default postfix implicit TLS negotiates TLSv1.3 (${r//$'\t'/ })" test "${r%%$'\t'*}" = TLSv1.3
r=$(os "$NET.1" $PS starttls -tls1 -cipher 'ALL:@SECLEVEL=0')
check "openssl: default postfix still accepts TLSv1.0 (${r//$'\t'/ })" test "${r%%$'\t'*}" = TLSv1

nm pfd "$NET.1" $PS starttls && v=$(versions pfd) || v=""
check "nmap: default postfix offers TLSv1.0-1.3 ($v)" test "$v" = "TLSv1.0 TLSv1.1 TLSv1.2 TLSv1.3 "
check "nmap: default postfix has TLS_AES_128_GCM_SHA256 under TLSv1.3 (IANA name)" \
  has pfd TLSv1.3 TLS_AES_128_GCM_SHA256

nm pf12 "$NET.2" $PS starttls && v=$(versions pf12) || v=""
check "nmap: tls12 postfix STARTTLS lists only TLSv1.2 suites ($v)" test "$v" = "TLSv1.2 "
nm pf12i "$NET.2" $PI implicit && v=$(versions pf12i) || v=""
check "nmap: tls12 postfix implicit lists only TLSv1.2 suites ($v)" test "$v" = "TLSv1.2 "
r=$(os "$NET.2" $PS starttls -tls1_3)
check "openssl: tls12 postfix refuses a TLS 1.3-only client (${r:-no handshake})" test -z "$r"

nm pfl "$NET.3" $PS starttls && v=$(cut -f2 "$TMP/pfl.nmap" | grep '^TLS_' | sort -u | tr '\n' ' ') || v=""
check "nmap: legacy postfix offers exactly AES128-SHA and CAMELLIA128-SHA ($v)" \
  test "$v" = "TLS_RSA_WITH_AES_128_CBC_SHA TLS_RSA_WITH_CAMELLIA_128_CBC_SHA "
v=$(versions pfl) || v=""
check "nmap: legacy postfix offers TLSv1.0 and TLSv1.1 only ($v)" test "$v" = "TLSv1.0 TLSv1.1 "

nm exim "$NET.4" $PS starttls || true
check "nmap: exim lists TLSv1.2 TLS_RSA_WITH_RC4_128_SHA" has exim TLSv1.2 TLS_RSA_WITH_RC4_128_SHA
check "nmap: exim lists TLSv1.0 TLS_RSA_WITH_3DES_EDE_CBC_SHA" has exim TLSv1.0 TLS_RSA_WITH_3DES_EDE_CBC_SHA
g=$(sed -n 's/^LEAST\t//p' "$TMP/exim.nmap")
check "nmap: exim least strength is C ($g)" test "$g" = C
r=$(os "$NET.4" $PI implicit)
check "openssl: exim implicit TLS negotiates TLSv1.2 ECDHE (${r//$'\t'/ })" \
  test "$r" = "TLSv1.2"$'\t'"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"

# --- stop everything, check the processes are gone ---
pids=""
[ -f "$TMP/dns/knot.pid" ] && pids="$pids $(cat "$TMP/dns/knot.pid")"
for d in pf-default pf-tls12 pf-legacy; do
  [ -f "$TMP/$d/queue/pid/master.pid" ] && pids="$pids $(tr -d ' ' < "$TMP/$d/queue/pid/master.pid")"
done
[ -f "$TMP/exim-rc4/exim.pid" ] && pids="$pids $(cat "$TMP/exim-rc4/exim.pid")"
rc=0
"$ROOT/scripts/peers/exim.sh" stop "$TMP/exim-rc4" >/dev/null 2>&1 || rc=1
for d in pf-legacy pf-tls12 pf-default; do "$ROOT/scripts/peers/postfix.sh" stop "$TMP/$d" >/dev/null 2>&1 || rc=1; done
"$ROOT/scripts/dns.sh" stop "$TMP/dns" >/dev/null 2>&1 || rc=1
started=()
alive=""
for p in $pids; do
  st=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
  [ "${st%% *}" = Z ] || alive="$alive $p"
done
check "all peers stop and their daemons are gone${alive:+ (alive:$alive)}" test $rc = 0 -a -z "$alive"

echo "# total $(elapsed "$T0") s"
[ "$N" = 22 ] || { echo "# planned 22 tests, ran $N"; exit 1; }
[ "$FAILED" = 0 ]
