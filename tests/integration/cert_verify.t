#!/usr/bin/env bash
# Certificates as a sending MTA sees them, on real postfix (OpenSSL) peers
# serving a valid chain, an expired leaf, a leaf without its intermediate, a
# self-signed leaf and a leaf for the wrong name: mxscan's verify code must be
# the one `openssl s_client -CAfile ... -verify_hostname MX` reports first (and
# the one `openssl verify` gives for the same files), and the name match must
# agree. Scanned in one run, so a server that sent the intermediate cannot make
# a later chain without it verify (RECIPES.md §1.5 caching pitfall).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
if [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null; then echo "1..0 # SKIP needs root and postfix"; exit 0; fi
T=$(mktemp -d /tmp/mxscan-cv.XXXXXX); chmod 755 "$T"
cleanup() { for d in "$T"/pf*; do [ -d "$d" ] && scripts/peers/postfix.sh stop "$d" >/dev/null 2>&1; done; rm -rf "$T"; }
trap cleanup EXIT
scripts/certs.sh "$T/certs" >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - certificates"; exit 0; }
for x in $(seq 201 250); do ss -Htln | grep -q " 127\.0\.$x\." || { NET=127.0.$x; break; }; done
variants="valid expired missing-intermediate self-signed wrong-name"
echo "1..$(( $(echo $variants | wc -w) * 4 + 2 ))"
i=0
: > "$T/targets"
for v in $variants; do
  i=$((i+1))
  KEY="$T/certs/$v.key" CERT="$T/certs/$v.chain.pem" CHAIN="" \
    scripts/peers/postfix.sh start "$T/pf$i" mx1.example.test "$NET.$i" 2525 2465 "$T/certs" default >/dev/null 2>&1 \
    || echo "# postfix $v did not start"
  echo "$NET.$i,mx1.example.test,$v,2525" >> "$T/targets"
done
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q --enum quick --ca-file "$T/certs/ca.pem" -i "$T/targets" > "$T/all.json"
grep '"type":"host"' "$T/all.json" > "$T/rec.json"
n=0
i=0
for v in $variants; do
  i=$((i+1))
  rec=$(grep "\"ip\":\"$NET.$i\"" "$T/rec.json")
  got=$(printf '%s' "$rec" | sed -n 's/.*"verify":{"code":\([0-9]*\).*/\1/p')
  mx=$(printf '%s' "$rec" | sed -n 's/.*"name_match":{"mx":\([a-z]*\)}.*/\1/p')
  sc=$(echo QUIT | timeout 10 openssl s_client -starttls smtp -connect "$NET.$i:2525" -CAfile "$T/certs/ca.pem" \
        -verify_hostname mx1.example.test 2>&1)
  want=$(printf '%s\n' "$sc" | sed -n 's/^verify error:num=\([0-9]*\):.*/\1/p' | head -1)
  [ -n "$want" ] || want=0
  # openssl verify on the same files (the chain's intermediates as untrusted)
  awk 'BEGIN{c=0} /BEGIN CERT/{c++} c>1{print}' "$T/certs/$v.chain.pem" > "$T/untrusted.pem"
  if [ -s "$T/untrusted.pem" ]; then u=(-untrusted "$T/untrusted.pem"); else u=(); fi
  ov=$(openssl verify -CAfile "$T/certs/ca.pem" "${u[@]}" -verify_hostname mx1.example.test "$T/certs/$v.crt" 2>&1)
  ovc=$(printf '%s\n' "$ov" | sed -n 's/^error \([0-9]*\) at.*/\1/p' | head -1); [ -n "$ovc" ] || ovc=0
  n=$((n+1)); [ -n "$got" ] && [ "$got" = "$want" ] && echo "ok $n - $v: verify code $want as openssl s_client" || echo "not ok $n - $v: mxscan '$got', s_client $want"
  n=$((n+1)); [ "$got" = "$ovc" ] && echo "ok $n - $v: verify code $ovc as openssl verify" || echo "not ok $n - $v: mxscan '$got', openssl verify $ovc"
  # s_client's hostname check: 62 among its errors means no match
  if printf '%s\n' "$sc" | grep -q 'verify error:num=62'; then want_mx=false; else want_mx=true; fi
  n=$((n+1)); [ "$mx" = "$want_mx" ] && echo "ok $n - $v: name match $want_mx" || echo "not ok $n - $v: name match mxscan '$mx', openssl $want_mx"
  n=$((n+1)); printf '%s' "$rec" | grep -q '"source":"handshake"' && echo "ok $n - $v: chain from the full handshake" || echo "not ok $n - $v: no handshake chain"
done
# every certificate once per scan: one "certificate" record per distinct SHA-256
# (the intermediate several servers share included), its DER hashing to it
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" - "$T/all.json" $n <<'PYEOF'
import base64, hashlib, json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
n = int(sys.argv[2])
used = set()
for r in recs:
    if r["type"] == "host":
        for c in r.get("tls", {}).get("certificate", {}).get("chain", []):
            used.add(c["sha256"])
stored = [r for r in recs if r["type"] == "certificate"]
shas = [r["sha256"] for r in stored]
ok = len(shas) == len(set(shas)) and set(shas) == used
print(("ok" if ok else "not ok") + f" {n + 1} - each of the {len(used)} certificates stored once ({len(stored)} records)")
ok = all(hashlib.sha256(base64.b64decode(r["der"])).hexdigest() == r["sha256"] for r in stored)
print(("ok" if ok else "not ok") + f" {n + 2} - every stored DER hashes to its sha256")
PYEOF
