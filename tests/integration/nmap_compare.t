#!/usr/bin/env bash
# mxscan's full enumeration against nmap's ssl-enum-ciphers on real peers
# started here: postfix (OpenSSL 3) default, TLS 1.2-only and legacy
# (TLS 1.0/1.1 static RSA), and exim (GnuTLS) with RC4 and 3DES. Per version:
# the same accepted suites, the same preference verdict, the same order when
# the server enforces one, and the same least grade. Known differences where
# nmap is wrong are asserted as such (see README, "mxscan and nmap disagree").
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
if [ "$(id -u)" != 0 ] || ! command -v postfix >/dev/null || ! command -v nmap >/dev/null; then
  echo "1..0 # SKIP needs root, postfix and nmap"; exit 0
fi
T=$(mktemp -d /tmp/mxscan-nmap.XXXXXX); chmod 755 "$T"
cleanup() {
  for d in "$T"/pf*; do [ -d "$d" ] && scripts/peers/postfix.sh stop "$d" >/dev/null 2>&1; done
  [ -d "$T/exim" ] && scripts/peers/exim.sh stop "$T/exim" >/dev/null 2>&1
  rm -rf "$T"
}
trap cleanup EXIT
scripts/certs.sh "$T/certs" >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - certificates"; exit 0; }
export KEY="$T/certs/valid.key" CERT="$T/certs/valid.chain.pem" CHAIN=""
# a free /24 for this test
for x in $(seq 140 200); do
  ss -Htln | grep -q " 127\.0\.$x\." || { NET=127.0.$x; break; }
done
ok_start=1
scripts/peers/postfix.sh start "$T/pf1" mx1.example.test $NET.1 2525 2465 "$T/certs" default >/dev/null 2>&1 || ok_start=0
scripts/peers/postfix.sh start "$T/pf2" mx1.example.test $NET.2 2525 2465 "$T/certs" tls12 >/dev/null 2>&1 || ok_start=0
scripts/peers/postfix.sh start "$T/pf3" mx1.example.test $NET.3 2525 2465 "$T/certs" legacy >/dev/null 2>&1 || ok_start=0
EXIM_HOSTNAME=mx1.example.test scripts/peers/exim.sh start "$T/exim" $NET.4 2525 2465 "$T/certs" \
  'NONE:+VERS-TLS1.0:+VERS-TLS1.2:+RSA:+ECDHE-RSA:+3DES-CBC:+ARCFOUR-128:+AES-128-CBC:+SHA1:+COMP-NULL:+SIGN-ALL:+CURVE-ALL' >/dev/null 2>&1 || ok_start=0
if [ $ok_start = 0 ]; then echo "1..1"; echo "not ok 1 - peers did not start"; exit 0; fi

for h in 1 2 3 4; do
  "$BIN/mxscan" --allowlist 127.0.0.0/8 -q --mode starttls "$NET.$h:2525" | grep '"type":"host"' > "$T/mx$h.json"
  scripts/oracle-nmap.sh "$NET.$h" 2525 starttls > "$T/nmap$h.tsv" 2>"$T/nmap$h.err"
done
"$PY" - "$T" <<'PYEOF'
import json, sys
t = sys.argv[1]
names = {1: "postfix default", 2: "postfix TLS 1.2 only", 3: "postfix legacy", 4: "exim RC4/3DES"}
n = fails = 0
def check(cond, what, detail=""):
    global n, fails
    n += 1
    fails += not cond
    print(("ok" if cond else "not ok") + f" {n} - {what}" + ("" if cond or not detail else f"  # {detail}"))
for h, label in names.items():
    rec = json.loads(open(f"{t}/mx{h}.json").read())
    mx = {v: d for v, d in rec.get("tls", {}).get("versions", {}).items() if d.get("supported")}
    nm, order, least = {}, {}, None
    for line in open(f"{t}/nmap{h}.tsv"):
        f = line.rstrip("\n").split("\t")
        if f[0] == "ORDER":
            order[f[1]] = f[2]
        elif f[0] == "LEAST":
            least = f[1]
        else:
            nm.setdefault(f[0], []).append(f[1])
    check(bool(nm), f"{label}: nmap enumerated something")
    check(sorted(mx) == sorted(nm), f"{label}: same versions ({', '.join(sorted(nm))})", f"mxscan {sorted(mx)}")
    for v in sorted(set(mx) & set(nm)):
        ours = [c["name"] for c in mx[v]["ciphers"]]
        check(sorted(ours) == sorted(nm[v]), f"{label}: {v}: same {len(nm[v])} suites",
              f"only mxscan {sorted(set(ours) - set(nm[v]))}, only nmap {sorted(set(nm[v]) - set(ours))}")
        if v in order:
            check(mx[v].get("order") == order[v], f"{label}: {v}: preference {order[v]}", f"mxscan {mx[v].get('order')}")
            if order[v] == "server":
                check(ours == nm[v], f"{label}: {v}: the server's order", f"mxscan {ours} nmap {nm[v]}")
    if least:
        check(rec["tls"].get("least_grade") == least, f"{label}: least grade {least}", f"mxscan {rec['tls'].get('least_grade')}")
    print(f"# {label}: mxscan {rec['probes']['connections']} connections")
print(f"1..{n}")
PYEOF
