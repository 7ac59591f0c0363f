#!/usr/bin/env bash
# Reference full handshake with openssl s_client, for comparing with mxscan.
#
#   scripts/oracle-openssl.sh IP PORT starttls|implicit [extra s_client args...]
#
# Prints one line on stdout: PROTOCOL<TAB>CIPHER_IANA, e.g. "TLSv1.3	TLS_AES_256_GCM_SHA384" or
# "TLSv1.2	TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", taken from the "Protocol  :" and "Cipher    :"
# lines of the SSL-Session block (TLS 1.3 without a ticket: the "New, TLSv1.3" line). OpenSSL cipher names are mapped to IANA names with
# `openssl ciphers -V -stdname` (TLS 1.3 names are already IANA). Exit status 1 when no
# handshake completes (nothing on stdout, s_client's error on stderr).
# Extra args go to s_client, e.g. -tls1_2, -tls1 -cipher 'ALL:@SECLEVEL=0' (OpenSSL 3 needs
# @SECLEVEL=0 for TLS 1.0/1.1), -servername mx1.example.test, -CAfile ca.crt.
# Set ORACLE_KEEP_LOG=FILE to keep s_client's full output.
set -euo pipefail

die() { echo "oracle-openssl.sh: error: $*" >&2; exit 1; }
[ $# -ge 3 ] || { echo "usage: oracle-openssl.sh IP PORT starttls|implicit [s_client args...]" >&2; exit 2; }
ip=$1 port=$2 mode=$3; shift 3
case "$ip" in
  ::1) target="[::1]:$port" ;;
  127.*) [[ "$ip" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "bad address '$ip'"; target="$ip:$port" ;;
  *) die "only loopback targets (127.0.0.0/8, ::1) are allowed, got '$ip'" ;;
esac
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "bad port '$port'"; fi
case "$mode" in
  starttls) st=(-starttls smtp) ;;
  implicit) st=() ;;
  *) die "MODE must be starttls or implicit, got '$mode'" ;;
esac
command -v openssl >/dev/null || die "openssl not installed"

out=$(printf 'QUIT\r\n' | timeout 20 openssl s_client -connect "$target" "${st[@]}" "$@" 2>&1) || true
[ -z "${ORACLE_KEEP_LOG:-}" ] || printf '%s\n' "$out" > "$ORACLE_KEEP_LOG"

session=$(printf '%s\n' "$out" | sed -n '/^SSL-Session:/,/^ *Verify return code/p')
proto=$(printf '%s\n' "$session" | sed -n 's/^ *Protocol *: *\([^ ]*\) *$/\1/p' | head -n 1)
cipher=$(printf '%s\n' "$session" | sed -n 's/^ *Cipher *: *\([^ ]*\) *$/\1/p' | head -n 1)
# TLS 1.3: s_client prints the SSL-Session block only when a session ticket arrives, which may be
# after our QUIT closed the connection. Then the "New, TLSv1.3, Cipher is TLS_..." line is exact
# (for TLS <= 1.2 that line shows the cipher's minimum version, so it is used for 1.3 only).
if [ -z "$proto" ]; then
  new=$(printf '%s\n' "$out" | sed -n 's/^New, TLSv1\.3, Cipher is \(TLS_[A-Z0-9_]*\) *$/\1/p' | head -n 1)
  [ -z "$new" ] || { proto=TLSv1.3; cipher=$new; }
fi
if [ -z "$proto" ] || [ -z "$cipher" ] || [ "$cipher" = 0000 ] || [ "$cipher" = "(NONE)" ]; then
  printf '%s\n' "$out" | grep -v -i -E 'verif' |
    grep -E 'error|alert|errno|refused|didn.t|unable|no peer' | head -n 5 >&2 || true
  die "no TLS handshake with $target ($mode)"
fi

case "$cipher" in
  TLS_*) iana=$cipher ;;  # TLS 1.3 (and any name already in IANA form)
  *)
    iana=$(openssl ciphers -V -stdname 'ALL:COMPLEMENTOFALL:@SECLEVEL=0' 2>/dev/null |
           awk -v c="$cipher" '$5 == c { print $3; exit }')
    [ -n "$iana" ] || die "no IANA name known for OpenSSL cipher '$cipher'"
    ;;
esac
printf '%s\t%s\n' "$proto" "$iana"
