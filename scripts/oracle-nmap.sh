#!/usr/bin/env bash
# Reference cipher enumeration with nmap's ssl-enum-ciphers, for comparing with mxscan.
#
#   scripts/oracle-nmap.sh IP PORT starttls|implicit
#
# Prints, sorted (LC_ALL=C), tab-separated, on stdout:
#   VERSION<TAB>SUITE                  one per accepted suite (VERSION as nmap prints it: SSLv3,
#                                      TLSv1.0, TLSv1.1, TLSv1.2, TLSv1.3; SUITE the IANA name)
#   ORDER<TAB>VERSION<TAB>server|client|indeterminate   nmap's "cipher preference" per version
#   LEAST<TAB>GRADE                    nmap's "least strength"
# nmap calls the TLS 1.3 suites TLS_AKE_WITH_AES_128_GCM_SHA256 etc.; they are printed with their
# IANA names (TLS_AES_128_GCM_SHA256). All other names are nmap's, which are already IANA names.
# Uses the fast form: a one-line services file (--servicedb, which implies -F, so no -p) naming
# the port "smtp" (nmap then does STARTTLS) or "smtps" (implicit TLS). The XML (-oX) is parsed
# with xmllint. Exit status 1 if nmap fails or reports no TLS for the port.
# Set ORACLE_KEEP_XML=FILE to keep a copy of nmap's XML.
set -euo pipefail

die() { echo "oracle-nmap.sh: error: $*" >&2; exit 1; }
[ $# -eq 3 ] || { echo "usage: oracle-nmap.sh IP PORT starttls|implicit" >&2; exit 2; }
ip=$1 port=$2 mode=$3
case "$ip" in
  ::1) six=-6 ;;
  127.*) [[ "$ip" =~ ^127\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "bad address '$ip'"; six= ;;
  *) die "only loopback targets (127.0.0.0/8, ::1) are allowed, got '$ip'" ;;
esac
if ! [[ "$port" =~ ^[0-9]+$ ]] || [ "$port" -lt 1 ] || [ "$port" -gt 65535 ]; then die "bad port '$port'"; fi
case "$mode" in
  starttls) svc=smtp ;;
  implicit) svc=smtps ;;
  *) die "MODE must be starttls or implicit, got '$mode'" ;;
esac
command -v nmap >/dev/null || die "nmap not installed (scripts/deps.sh)"
command -v xmllint >/dev/null || die "xmllint not installed (apt-get install libxml2-utils; scripts/deps.sh)"

tmp=$(mktemp -d /tmp/oracle-nmap.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
printf '%s\t%s/tcp\t0.5\n' "$svc" "$port" > "$tmp/services"
if ! nmap $six -Pn -n --servicedb "$tmp/services" --script ssl-enum-ciphers --host-timeout 120s \
     -oX "$tmp/out.xml" "$ip" >"$tmp/nmap.out" 2>"$tmp/nmap.err"; then
  cat "$tmp/nmap.err" >&2
  die "nmap failed"
fi
[ -z "${ORACLE_KEEP_XML:-}" ] || cp "$tmp/out.xml" "$ORACLE_KEEP_XML"

x() { xmllint --nocdata --xpath "$1" "$tmp/out.xml" 2>/dev/null || true; }
P="//host/ports/port[@protocol='tcp' and @portid='$port']"
S="$P/script[@id='ssl-enum-ciphers']"

state=$(x "string($P/state/@state)")
[ "$state" = open ] || die "port $ip:$port is '${state:-not reported}' (nmap output: $(tr '\n' ' ' < "$tmp/nmap.out"))"
[ "$(x "count($S)")" = 1 ] || die "ssl-enum-ciphers found no SSL/TLS on $ip:$port ($mode)"

# Version tables: <table key="TLSv1.2">; xmllint prints attributes as ' key="..."', one a line.
mapfile -t versions < <(x "$S/table/@key" | sed -n 's/^ *key="\([^"]*\)"$/\1/p')
{
  for v in "${versions[@]}"; do
    case "$v" in SSLv3|TLSv1.[0-3]) ;; *) die "unexpected protocol table '$v' in nmap XML" ;; esac
    x "$S/table[@key='$v']/table[@key='ciphers']/table/elem[@key='name']/text()" |
      sed -e '/^$/d' -e 's/^TLS_AKE_WITH_/TLS_/' -e "s/^/$v\t/"
    pref=$(x "string($S/table[@key='$v']/elem[@key='cipher preference'])")
    case "$pref" in
      server|client|indeterminate) printf 'ORDER\t%s\t%s\n' "$v" "$pref" ;;
      "") ;;
      *) printf 'ORDER\t%s\t%s\n' "$v" "$pref"; echo "oracle-nmap.sh: warning: odd cipher preference '$pref'" >&2 ;;
    esac
  done
  least=$(x "string($S/elem[@key='least strength'])")
  [ -z "$least" ] || printf 'LEAST\t%s\n' "$least"
} > "$tmp/result"
[ -s "$tmp/result" ] || die "no suites parsed from nmap XML"
LC_ALL=C sort "$tmp/result"
