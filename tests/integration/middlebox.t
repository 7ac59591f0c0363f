#!/usr/bin/env bash
# Middleboxes (issue 7): three network namespaces joined by veth pairs,
#   client (10.77.1.10) -- vc/vmc -- middlebox (router) -- vms/vs -- server (10.77.2.25)
# (RECIPES.md §7). mxscan runs in the client namespace with --capture vc.
# Asserted verdicts:
#   (a) the middlebox injects a RST on STARTTLS (iptables REJECT --reject-with tcp-reset,
#       and the same with a native nft rule): capture.verdict reset.injected_suspected,
#       reasons include the TTL (the server's packets arrive with TTL 63, the middlebox's RST with 64)
#   (b) a stripping proxy in the middlebox rewrites STARTTLS to XXXXXXXA: smtp.tampering
#       evidence, and the flow's packets written by --pcap-out
#   (a') an on-path injector (raw sockets in the middlebox) forges the RST but lets STARTTLS
#       through: the server's 220 still arrives after the RST (reason server-data-after-rst)
#   (c) negative controls: the server itself resets after STARTTLS (reset.by_server); a clean
#       path (no reset, TLS answered); a server that never offered STARTTLS (absent, no tampering)
#   and --capture without privileges fails with a clear message.
# Needs root and `ip netns`; prints a SKIP plan otherwise. Every namespace is deleted on
# every exit path (trap). Only addresses inside the namespaces created here are used.
set -uo pipefail
KEEP=${KEEP:-}
cd "$(dirname "$0")/../.."
ROOT=$PWD
BIN=${BIN:-bin}
case "$BIN" in /*) ;; *) BIN=$ROOT/$BIN ;; esac
PY=$(command -v python3)

if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (network namespaces, packet capture)"; exit 0; fi
if ! ip netns list >/dev/null 2>&1; then echo "1..0 # SKIP ip netns unavailable"; exit 0; fi
for tool in iptables nft openssl; do
  command -v $tool >/dev/null || { echo "1..0 # SKIP $tool not installed (scripts/deps.sh)"; exit 0; }
done

T=$(mktemp -d /tmp/mxscan-mb.XXXXXX)
chmod 755 "$T"
ID=$$
C=mxt7-$ID-c MB=mxt7-$ID-mb S=mxt7-$ID-s
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  for ns in "$C" "$MB" "$S"; do ip netns del "$ns" 2>/dev/null; done
  [ -n "$KEEP" ] && echo "# kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..39"

# --- topology -----------------------------------------------------------------
setup() {
  local ns
  for ns in "$C" "$MB" "$S"; do ip netns add "$ns" && ip -n "$ns" link set lo up || return 1; done
  # created straight inside the namespaces: no name ever exists in the root namespace
  ip link add vc netns "$C" type veth peer name vmc netns "$MB" || return 1
  ip link add vms netns "$MB" type veth peer name vs netns "$S" || return 1
  ip -n "$C" addr add 10.77.1.10/24 dev vc && ip -n "$MB" addr add 10.77.1.1/24 dev vmc &&
    ip -n "$MB" addr add 10.77.2.1/24 dev vms && ip -n "$S" addr add 10.77.2.25/24 dev vs || return 1
  for l in "$C vc" "$MB vmc" "$MB vms" "$S vs"; do set -- $l; ip -n "$1" link set "$2" up || return 1; done
  ip -n "$C" route add default via 10.77.1.1 && ip -n "$S" route add default via 10.77.2.1 || return 1
  ip netns exec "$MB" sysctl -qw net.ipv4.ip_forward=1
}
setup; t $? "three namespaces (client, middlebox, server) joined by veth"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
  -subj /CN=mx.mbox.test >/dev/null 2>&1; t $? "server certificate"

# start_bg NS READYFILE CMD...: run CMD in NS, wait (bounded) for its "ready" line
start_bg() {
  local ns=$1 out=$2 i; shift 2
  ip netns exec "$ns" "$@" > "$out" 2>&1 &
  PIDS+=($!)
  for i in $(seq 100); do grep -q '^ready' "$out" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}
# the three server personalities on one address, three ports
start_bg "$S" "$T/tls.log" "$PY" tests/integration/lib/mb_smtpd.py 10.77.2.25 2525 tls "$T/cert.pem" "$T/key.pem" &&
start_bg "$S" "$T/rst.log" "$PY" tests/integration/lib/mb_smtpd.py 10.77.2.25 2526 reset "$T/cert.pem" "$T/key.pem" &&
start_bg "$S" "$T/no.log" "$PY" tests/integration/lib/mb_smtpd.py 10.77.2.25 2527 nostarttls "$T/cert.pem" "$T/key.pem" &&
start_bg "$S" "$T/slow.log" "$PY" tests/integration/lib/mb_smtpd.py 10.77.2.25 2528 slow220 "$T/cert.pem" "$T/key.pem"
t $? "test SMTP servers ready in the server namespace (tls, reset, nostarttls, slow220)"

# scan NAME PORT [ARGS...]: mxscan in the client namespace with --capture vc; record in $T/NAME.json
scan() {
  local name=$1 port=$2; shift 2
  ip netns exec "$C" "$BIN/mxscan" --capture vc --allowlist 10.77.0.0/16 --enum quick --no-handshake \
    --timeout 5 --tls-timeout 5 --connect-timeout 5 -q "$@" "10.77.2.25:$port" > "$T/$name.json" 2> "$T/$name.err"
}
# diag NAME PORT: mxscan diagnose --json --capture vc on the server's address; $T/NAME.diag
diag() {
  ip netns exec "$C" "$BIN/mxscan" diagnose --json --capture vc --allowlist 10.77.0.0/16 \
    --timeout 5 --tls-timeout 5 --connect-timeout 5 --banner-timeout 5 "10.77.2.25:$2" > "$T/$1.diag" 2> "$T/$1.derr"
}
# dq NAME PYEXPR: evaluate PYEXPR with d = the diagnosis; exit 0 when true
dq() {
  "$PY" - "$T/$1.diag" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
if not ok:
    print("# diagnosis: " + json.dumps(d)[:1500])
sys.exit(0 if ok else 1)
EOF
}
# q NAME PYEXPR: evaluate PYEXPR with h = the host record, s = the end scan record; exit 0 when true
q() {
  "$PY" - "$T/$1.json" "$2" <<'EOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
h = [r for r in recs if r["type"] == "host"][0]
s = [r for r in recs if r["type"] == "scan"][-1]
ok = eval(sys.argv[2])
if not ok:
    print("# record: " + json.dumps(h)[:1500])
sys.exit(0 if ok else 1)
EOF
}

# --- (c) negative controls first, on the clean path -----------------------------
scan clean 2525; t $? "clean path: scan ran"
q clean 'h["status"] == "success" and h["capture"]["verdict"] == "no-reset" and not h["capture"]["reasons"]'
t $? "clean path: TLS answered, capture verdict no-reset"
q clean 'h["capture"]["syn_ack"]["ttl"] == 63 and h["capture"]["server_ttl"]["min"] == 63 and h["capture"]["client_hello_ms"] >= h["capture"]["starttls_ms"] > 0'
t $? "clean path: SYN-ACK baseline TTL 63 (one routed hop), STARTTLS and ClientHello timed"
q clean '"tampering" not in h["smtp"] and s["capture"]["flows"] == 1 and s["capture"]["matched"] > 5'
t $? "clean path: no tampering; the end record counts the captured flow"

# root is dropped once the capture is open; the capture goes on working
scan user 2525 --user nobody; t $? "--user nobody: scan ran"
q user 'h["capture"]["verdict"] == "no-reset" and h["capture"]["syn_ack"]["ttl"] == 63' &&
  ip netns exec "$C" "$BIN/mxscan" --capture vc --user nobody --allowlist 10.77.0.0/16 --enum quick \
    --no-handshake 10.77.2.25:2525 2> "$T/user2.err" >/dev/null &&
  grep -q 'running as nobody (uid 65534)' "$T/user2.err"
t $? "--user nobody: says so, and the capture still sees the flow after root is dropped"

scan srvrst 2526; t $? "server resets after STARTTLS: scan ran"
q srvrst 'h["failure"]["stage"] == "starttls" and h["failure"]["reason"] == "reset"'
t $? "server reset: failure at stage starttls, reason reset"
q srvrst 'h["capture"]["verdict"] == "reset.by_server" and h["capture"]["reasons"] == []'
t $? "server reset: verdict reset.by_server, no reasons"
q srvrst 'any(e["kind"] == "rst" and e["ttl"] == 63 and e["in_window"] and e.get("ip_id_in_sequence") is True and e["ms_after_starttls"] >= 0 for e in h["capture"]["events"])'
t $? "server reset: the RST has the server's TTL, an in-window seq and the next IP ID"
diag srvrst 2526
dq srvrst 'd["causes"] == ["starttls-handshake-failed"] and any("server sent it" in c["evidence"] for h in d["hosts"] for c in h["causes"])'
t $? "diagnose --capture, server reset: starttls-handshake-failed alone, the capture says the server sent it"

scan nostls 2527; t $? "no STARTTLS: scan ran"
q nostls 'h["smtp"]["starttls"] == "absent" and "tampering" not in h["smtp"] and h["capture"]["verdict"] == "no-reset"'
t $? "no STARTTLS: absent, no tampering, no reset"

# --- (a) RST injected by the middlebox on STARTTLS ------------------------------------
ip netns exec "$MB" iptables -A FORWARD -p tcp --dport 2525 -m string --string STARTTLS --algo bm \
  -j REJECT --reject-with tcp-reset; t $? "middlebox: iptables rule injecting a RST on STARTTLS"
scan inj 2525; t $? "injected reset (iptables): scan ran"
q inj 'h["failure"]["stage"] == "starttls" and h["failure"]["reason"] == "reset"'
t $? "injected reset: the dialogue alone sees only a reset at STARTTLS"
q inj 'h["capture"]["verdict"] == "reset.injected_suspected" and "ttl-differs-from-syn-ack" in h["capture"]["reasons"]'
t $? "injected reset: verdict reset.injected_suspected, reason ttl-differs-from-syn-ack"
q inj 'any(e["kind"] == "rst" and e["ttl"] == 64 and e["ms_after_starttls"] >= 0 for e in h["capture"]["events"]) and h["capture"]["syn_ack"]["ttl"] == 63'
t $? "injected reset: RST TTL 64 vs SYN-ACK TTL 63, timed after STARTTLS"
q inj '"ip-id-out-of-sequence" in h["capture"]["reasons"]'
t $? "injected reset: its IP ID does not follow the server's counter"
ip netns exec "$MB" iptables -F FORWARD

ip netns exec "$MB" nft add table inet mxt7 &&
ip netns exec "$MB" nft add chain inet mxt7 mbfwd '{ type filter hook forward priority 0; policy accept; }' &&
ip netns exec "$MB" nft add rule inet mxt7 mbfwd tcp dport 2525 @ih,0,64 0x5354415254544c53 reject with tcp reset
t $? "middlebox: nft rule injecting a RST on STARTTLS"
scan injnft 2525 --pcap-out "$T/injnft.pcap"; t $? "injected reset (nft): scan ran with --pcap-out"
q injnft 'h["capture"]["verdict"] == "reset.injected_suspected" and h["capture"]["pcap_out"] is True'
t $? "injected reset (nft): reset.injected_suspected, flow written to --pcap-out"
# the pcap holds the flow: SYN, SYN-ACK, ... the forged RST with TTL 64
tcpdump -nn -v -r "$T/injnft.pcap" 2>/dev/null > "$T/injnft.txt"
grep -q '10.77.1.10.[0-9]* > 10.77.2.25.2525: Flags \[S\]' "$T/injnft.txt" &&
  grep -A1 'ttl 64, id 0,' "$T/injnft.txt" | grep -q '10.77.2.25.2525 > 10.77.1.10.[0-9]*: Flags \[R'
t $? "--pcap-out file opens with tcpdump and holds the SYN and the forged RST (ttl 64)"
diag injnft 2525; rc=$?
dq injnft 'd["causes"] == ["reset-injected"] and d["verdict"] == "broken"' && [ $rc = 11 ]
t $? "diagnose --capture, nft-injected reset: reset-injected alone, verdict broken, exit 11"
dq injnft 'any("ttl-differs-from-syn-ack" in c["evidence"] for h in d["hosts"] for c in h["causes"])'
t $? "diagnose --capture: the evidence names the capture's reason (TTL differs from the SYN-ACK's)"
ip netns exec "$MB" nft delete table inet mxt7

# an on-path injector: forges the RST but lets STARTTLS through, so the server's 220 follows it
start_bg "$MB" "$T/inject.log" "$PY" tests/integration/lib/mb_inject.py vmc 2528
t $? "middlebox: on-path injector (raw sockets) watching for STARTTLS"
scan onpath 2528 --pcap-out "$T/onpath.pcap"; t $? "on-path injected reset: scan ran"
q onpath 'h["failure"]["stage"] == "starttls" and h["failure"]["reason"] == "reset" and h["capture"]["verdict"] == "reset.injected_suspected"'
t $? "on-path injected reset: reset at STARTTLS, verdict reset.injected_suspected"
q onpath '{"server-data-after-rst", "ttl-differs-from-syn-ack", "ip-id-out-of-sequence"} <= set(h["capture"]["reasons"]) and h["capture"]["server_data_after_rst"] == len("220 2.0.0 Ready to start TLS\r\n")'
t $? "on-path injected reset: the server's 220 arrived after the RST (server-data-after-rst), plus TTL and IP ID"
kill "${PIDS[-1]}" 2>/dev/null

# --- (b) STARTTLS stripped by a proxy in the middlebox -----------------------------------
start_bg "$MB" "$T/strip.log" "$PY" tests/integration/lib/mb_strip.py 10.77.1.1 10025 10.77.2.25 2525 &&
  ip netns exec "$MB" iptables -t nat -A PREROUTING -i vmc -p tcp --dport 2525 -j REDIRECT --to-ports 10025
t $? "middlebox: stripping proxy behind a REDIRECT rule"
scan strip 2525 --pcap-out "$T/strip.pcap"; t $? "stripped STARTTLS: scan ran"
q strip 'h["smtp"]["starttls"] == "stripped" and h["failure"]["reason"] == "starttls-stripped"'
t $? "stripped: smtp.starttls stripped"
q strip 'any(e["kind"] == "starttls-token-replaced" and e["stage"] == "ehlo" and e["detail"] == "250-XXXXXXXA" for e in h["smtp"]["tampering"]["evidence"])'
t $? "stripped: smtp.tampering evidence starttls-token-replaced with the EHLO line 250-XXXXXXXA"
q strip 'h["capture"]["verdict"] == "no-reset" and h["capture"]["pcap_out"] is True'
t $? "stripped: no reset, but the tampered flow is written to --pcap-out"
ip netns exec "$MB" iptables -t nat -F PREROUTING

# --- records validate; privileges ----------------------------------------------------------------
cat "$T"/*.json > "$T/all.ndjson"
scripts/validate-records "$T/all.ndjson" > "$T/validate.out" 2>&1; t $? "every record validates against the schema"

setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
  "$BIN/mxscan" --capture lo --allowlist 127.0.0.0/8 -q 127.27.0.1:2525 > /dev/null 2> "$T/perm.err"
rc=$?
[ $rc = 1 ] && grep -q 'needs root or CAP_NET_RAW' "$T/perm.err"; t $? "--capture without privileges: exit 1, says root or CAP_NET_RAW is needed"
