#!/usr/bin/env bash
# Certificates for the simulated fleet and the tests, made with the openssl CLI. Nothing generated
# here is committed: run it into a build or temporary directory.
#
#   scripts/certs.sh OUTDIR [NAME...]
#
# NAMEs become the SANs of the leaf certificates (a NAME of the form IP:a.b.c.d is an IP SAN, anything
# else a DNS SAN). Default: mx1.example.test *.mail.example.test *.example.test example.test
# *.fleet.test fleet.test IP:127.0.0.1, so one leaf serves every MX name the fleet and demo use.
#
# A test CA signs an intermediate, which signs the leaves. For each variant NAME the script writes
# NAME.key (private key), NAME.crt (leaf) and NAME.chain.pem (what a server sends: leaf, then the
# intermediates it would include). ca.pem holds the trust anchor (test CA only). variants.txt lists
# `name verify_code description`, where verify_code is what `openssl verify -CAfile ca.pem
# -untrusted <chain intermediates> -verify_hostname <first DNS name>` actually returned on these
# files (0 = ok), checked when they were made, not assumed.
#
# Idempotent: nothing is done when OUTDIR/.done is newer than this script and records the same
# names. Private keys never leave OUTDIR.
set -euo pipefail

die() { echo "certs.sh: error: $*" >&2; exit 1; }
[ $# -ge 1 ] || { echo "usage: certs.sh OUTDIR [NAME...]" >&2; exit 2; }
OUT=$1
shift
command -v openssl >/dev/null || die "openssl not found; run scripts/deps.sh"
if [ $# -eq 0 ]; then
  set -- mx1.example.test '*.mail.example.test' '*.example.test' example.test '*.fleet.test' fleet.test IP:127.0.0.1
fi
stamp="names: $*"
if [ -f "$OUT/.done" ] && [ "$OUT/.done" -nt "$0" ] && [ "$(cat "$OUT/.done")" = "$stamp" ]; then
  exit 0
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W="$OUT/.work"
rm -rf "$W" "$OUT/.done"
mkdir -p "$W"
umask 077

# SAN extension value and the first DNS name (for the hostname check).
san="" host=""
for n in "$@"; do
  case "$n" in
    IP:*) san="$san,$n" ;;
    *)    san="$san,DNS:$n"; [ -n "$host" ] || case "$n" in \**) ;; *) host=$n ;; esac ;;
  esac
done
san=${san#,}
[ -n "$host" ] || die "need at least one DNS name without a wildcard for the hostname check"

cat > "$W/ext.cnf" <<EOF
[ v3_ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ v3_int ]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ leaf ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = $san
[ leaf_wrong ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong.invalid
[ leaf_self ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
subjectAltName = $san
EOF

rsa_key() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1" 2>/dev/null; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# mk_ca DIR CN SECTION [ISSUERDIR]: a CA key + cert in DIR, self-signed or signed by ISSUERDIR,
# plus the small database `openssl ca` needs (explicit start/end dates are only possible there).
mk_ca() {
  local d=$1 cn=$2 sect=$3 issuer=${4:-}
  mkdir -p "$d/new"
  : > "$d/index.txt"
  openssl rand -hex 8 > "$d/serial"
  cat > "$d/ca.cnf" <<EOF
[ ca ]
default_ca = the_ca
[ the_ca ]
dir = $d
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
certificate = $d/ca.crt
private_key = $d/ca.key
default_md = sha256
default_days = 3650
policy = any
unique_subject = no
copy_extensions = none
email_in_dn = no
[ any ]
commonName = supplied
organizationName = optional
EOF
  rsa_key "$d/ca.key" 2048
  if [ -z "$issuer" ]; then
    openssl req -new -x509 -key "$d/ca.key" -subj "/O=mxscan test/CN=$cn" -days 7300 -sha256 \
      -config "$W/ext.cnf" -extensions "$sect" -out "$d/ca.crt" 2>/dev/null
  else
    openssl req -new -key "$d/ca.key" -subj "/O=mxscan test/CN=$cn" -out "$d/ca.csr"
    sign "$issuer" "$d/ca.csr" "$d/ca.crt" "$sect" -days 5475
  fi
}

# sign CADIR CSR OUT EXTSECTION [openssl ca options...]
sign() {
  local d=$1 csr=$2 out=$3 sect=$4
  shift 4
  openssl ca -batch -notext -config "$d/ca.cnf" -extfile "$W/ext.cnf" -extensions "$sect" \
    -in "$csr" -out "$out" "$@" 2>"$W/ca.err" || { cat "$W/ca.err" >&2; die "openssl ca failed for $out"; }
}

# leaf NAME KEYKIND CADIR SECTION CN [openssl ca options...]: NAME.key, NAME.crt, NAME.chain.pem
leaf() {
  local name=$1 kind=$2 d=$3 sect=$4 cn=$5
  shift 5
  case "$kind" in
    rsa2048) rsa_key "$OUT/$name.key" 2048 ;;
    rsa1024) rsa_key "$OUT/$name.key" 1024 ;;
    ec256)   ec_key "$OUT/$name.key" ;;
    reuse:*) cp "$OUT/${kind#reuse:}.key" "$OUT/$name.key" ;;
  esac
  openssl req -new -key "$OUT/$name.key" -subj "/O=mxscan test/CN=$cn" -out "$W/$name.csr"
  sign "$d" "$W/$name.csr" "$OUT/$name.crt" "$sect" "$@"
  cat "$OUT/$name.crt" "$d/ca.crt" > "$OUT/$name.chain.pem"
}

mk_ca "$W/root" "mxscan Test Root CA" v3_ca
mk_ca "$W/int" "mxscan Test Intermediate CA" v3_int "$W/root"
mk_ca "$W/uroot" "mxscan Untrusted Root CA" v3_ca
mk_ca "$W/uint" "mxscan Untrusted Intermediate CA" v3_int "$W/uroot"
cp "$W/root/ca.crt" "$OUT/ca.pem"
cp "$W/int/ca.crt" "$OUT/intermediate.pem"
cp "$W/uroot/ca.crt" "$OUT/untrusted-root.pem"

leaf valid rsa2048 "$W/int" leaf "$host" -days 3650
# Same leaf and key, but the server "forgets" the intermediate.
cp "$OUT/valid.key" "$OUT/missing-intermediate.key"
cp "$OUT/valid.crt" "$OUT/missing-intermediate.crt"
cp "$OUT/valid.crt" "$OUT/missing-intermediate.chain.pem"
leaf expired rsa2048 "$W/int" leaf "$host" -startdate 20200101000000Z -enddate 20210101000000Z
leaf not-yet-valid rsa2048 "$W/int" leaf "$host" -startdate 20300101000000Z -enddate 20310101000000Z
leaf wrong-name rsa2048 "$W/int" leaf_wrong wrong.invalid -days 3650
leaf rsa1024-sha1 rsa1024 "$W/int" leaf "$host" -days 3650 -md sha1
leaf ecdsa-p256 ec256 "$W/int" leaf "$host" -days 3650
leaf untrusted-ca rsa2048 "$W/uint" leaf "$host" -days 3650
rsa_key "$OUT/self-signed.key" 2048
openssl req -new -x509 -key "$OUT/self-signed.key" -subj "/O=mxscan test/CN=$host" -days 3650 -sha256 \
  -config "$W/ext.cnf" -extensions leaf_self -out "$OUT/self-signed.crt" 2>/dev/null
cp "$OUT/self-signed.crt" "$OUT/self-signed.chain.pem"

# verify_code NAME: the error code openssl reports first (0 when the chain verifies), using the
# chain file's certificates after the leaf as untrusted intermediates.
verify_code() {
  local name=$1 args=() out
  awk -v f="$W/$name.untrusted" 'n>0{print > f} /END CERTIFICATE/{n++}' "$OUT/$name.chain.pem"
  [ -s "$W/$name.untrusted" ] && args=(-untrusted "$W/$name.untrusted")
  out=$(openssl verify -CAfile "$OUT/ca.pem" "${args[@]}" -verify_hostname "$host" "$OUT/$name.crt" 2>&1) || true
  if printf '%s\n' "$out" | grep -q ': OK$'; then echo 0; return; fi
  printf '%s\n' "$out" | sed -n 's/^error \([0-9][0-9]*\) at .*/\1/p' | head -n 1 | grep . ||
    die "cannot read openssl verify result for $name: $out"
}

{
  echo "# name verify_code description (code: openssl verify -CAfile ca.pem -verify_hostname $host)"
  while read -r name desc; do
    printf '%s %s %s\n' "$name" "$(verify_code "$name")" "$desc"
  done <<'EOF'
valid RSA-2048 leaf signed by the intermediate; chain leaf+intermediate
missing-intermediate same leaf as valid; chain is the leaf alone
expired valid 2020-01-01..2021-01-01; chain leaf+intermediate
not-yet-valid valid 2030-01-01..2031-01-01; chain leaf+intermediate
self-signed self-signed RSA-2048 leaf with the right names
wrong-name leaf for wrong.invalid only; chain leaf+intermediate
rsa1024-sha1 RSA-1024 leaf signed with SHA-1 (weak: plain openssl verify accepts it; -auth_level 1 gives 68, -auth_level 2 gives 66)
ecdsa-p256 ECDSA P-256 leaf signed by the (RSA) intermediate; chain leaf+intermediate
untrusted-ca leaf+intermediate from a second CA that is not in ca.pem
EOF
} > "$OUT/variants.txt"

chmod 644 "$OUT"/*.crt "$OUT"/*.pem "$OUT/variants.txt"
rm -rf "$W"
echo "$stamp" > "$OUT/.done"
