#!/usr/bin/env bash
# Real peers: postfix (OpenSSL 3) instances on loopback, STARTTLS on one port
# and implicit TLS on another. mxscan's baseline answer (version + suite) must
# equal what `openssl s_client` negotiates when it makes the same offer (same
# suites in the same order, TLS 1.0-1.3, same SNI).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
if [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null; then echo "1..0 # SKIP needs root and postfix"; exit 0; fi
T=$(mktemp -d /tmp/mxscan-pf.XXXXXX); chmod 755 "$T"   # postfix drops privileges and must traverse it
cleanup() {
  for d in "$T"/pf*; do [ -d "$d" ] && scripts/peers/postfix.sh stop "$d" >/dev/null 2>&1; done
  rm -rf "$T"
}
trap cleanup EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..12"

scripts/certs.sh "$T/certs" >/dev/null 2>&1; t $? "test certificates generated"
export KEY="$T/certs/valid.key" CERT="$T/certs/valid.chain.pem" CHAIN=""
scripts/peers/postfix.sh start "$T/pf1" mx1.example.test 127.0.9.11 2525 2465 "$T/certs" default >/dev/null 2>&1
t $? "postfix (default: TLS 1.0-1.3) started on 127.0.9.11"
scripts/peers/postfix.sh start "$T/pf2" mx1.example.test 127.0.9.12 2525 2465 "$T/certs" tls12 >/dev/null 2>&1
t $? "postfix (TLS 1.2 only) started on 127.0.9.12"

# The same offer for openssl: mxscan's baseline suites mapped to OpenSSL names, same order.
openssl ciphers -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' 2>/dev/null | awk '{print $1, $3}' > "$T/names"
openssl ciphers -stdname -tls1_3 -ciphersuites 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256' 2>/dev/null \
  | awk '$1 ~ /^TLS_AES|^TLS_CHACHA/ {print $1}' > "$T/tls13"
"$BIN/mxscan" --list-baseline | awk '{print $2}' > "$T/offer"
c12=$(awk 'NR==FNR {m[$1]=$2; next} ($1 in m) {printf "%s%s", sep, m[$1]; sep=":"}' "$T/names" "$T/offer")
c13=$(grep -xFf "$T/tls13" "$T/offer" | paste -sd: -)

iana_of() { # OpenSSL cipher name -> IANA name
  case "$1" in TLS_*) echo "$1";; *) awk -v o="$1" '$2 == o {print $1; exit}' "$T/names";; esac
}

check() { # ip port mode label
  local ip=$1 port=$2 mode=$3 label=$4 rec ver suite sc proto cipher st
  rec=$("$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode "$mode" --tls-timeout 5 "$ip,mx1.example.test,,$port" | grep '"type":"host"')
  ver=$(printf '%s' "$rec" | sed -n 's/.*"baseline":{"version":"\([^"]*\)".*/\1/p')
  suite=$(printf '%s' "$rec" | sed -n 's/.*"cipher":"\([^"]*\)".*/\1/p')
  if [ "$mode" = starttls ]; then st="-starttls smtp"; else st=""; fi
  sc=$(echo QUIT | timeout 10 openssl s_client $st -connect "$ip:$port" -servername mx1.example.test \
        -cipher "$c12:@SECLEVEL=0" -ciphersuites "$c13" -min_protocol TLSv1 -max_protocol TLSv1.3 -brief 2>&1)
  # -brief prints "Protocol version: X" and "Ciphersuite: Y" once the handshake is done
  proto=$(printf '%s\n' "$sc" | sed -n 's/^Protocol version: *//p' | head -1)
  cipher=$(iana_of "$(printf '%s\n' "$sc" | sed -n 's/^Ciphersuite: *//p' | head -1)")
  echo "# $label: mxscan $ver $suite; openssl $proto $cipher"
  [ -n "$proto" ] || printf '%s\n' "$sc" | sed "s/^/#   s_client: /" | tail -5
  [ -n "$ver" ] && [ "$ver" = "$proto" ]; t $? "$label: same version as openssl s_client ($proto)"
  [ -n "$suite" ] && [ "$suite" = "$cipher" ]; t $? "$label: same suite as openssl s_client ($cipher)"
}
check 127.0.9.11 2525 starttls "default, STARTTLS"
check 127.0.9.11 2465 implicit "default, implicit TLS"
check 127.0.9.12 2525 starttls "TLS 1.2 only, STARTTLS"
check 127.0.9.12 2465 implicit "TLS 1.2 only, implicit TLS"
# the record of a port-465-style implicit scan carries no SMTP dialogue, the STARTTLS one does
rec=$("$BIN/mxscan" --allowlist 127.0.0.0/8 -q 127.0.9.12:2525 | grep '"type":"host"')
printf '%s' "$rec" | grep -q '"starttls":"offered"'; t $? "STARTTLS record says starttls offered"
