#!/usr/bin/env bash
# Install the Debian packages that building, testing and the demo need. Idempotent:
# packages already present are skipped, so a second run costs one dpkg query.
# Usage: scripts/deps.sh [--with-peers]   (--with-peers adds postfix/exim/nmap/sslscan for integration tests)
set -euo pipefail
BUILD="build-essential pkg-config clang clang-format libwolfssl-dev libpcap-dev libmaxminddb-dev zlib1g-dev libc-ares-dev"
TOOLS="openssl python3-jsonschema knot knot-dnsutils bind9-dnsutils iproute2 iptables nftables tcpdump swaks nmap sslscan libmaxmind-db-writer-perl mmdb-bin ca-certificates procps gzip perl libxml2-utils libnet-ssleay-perl libio-socket-ssl-perl chromium"
PEERS="libidn12 gnutls-bin testssl.sh bsdextrautils"
want="$BUILD $TOOLS"
# node + npm for the DuckDB check of docs/sql (scripts/duckdb-node.sh); only when npm is missing,
# so a NodeSource nodejs (which bundles npm) is left alone
command -v npm > /dev/null 2>&1 || want="$want nodejs npm"
[ "${1:-}" = "--with-peers" ] && want="$want $PEERS"
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
postfix_needed=0
if [ "${1:-}" = "--with-peers" ] && ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q 'install ok installed'; then
  postfix_needed=1
fi
if [ -z "$missing" ] && [ $postfix_needed = 0 ]; then exit 0; fi
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
echo "deps.sh: installing:$missing$([ $postfix_needed = 1 ] && echo ' postfix')" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
[ -n "$missing" ] && $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
if [ $postfix_needed = 1 ]; then
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi
echo "deps.sh: done" >&2
