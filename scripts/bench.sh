#!/usr/bin/env bash
# The scale benchmark of issue 10, in one run, on loopback only:
#
#  1. enumeration of the 1,088-server fleet (datasets/fleet/bench1k-a.conf and
#     bench1k-b.conf, two fleet processes so the fleet keeps up) by
#     mxscan --enum full and by nmap's ssl-enum-ciphers: wall time, CPU,
#     connections per host (counted by the fleet), hosts/s, connections/s,
#     peak RSS, and whether both found the same suites per host;
#  2. CPU seconds per 1,000 probe connections: mxscan (from run 1) against
#     scripts/bench/refclient.c, which makes only the syscalls of one probe
#     (connect, banner, EHLO, STARTTLS, ClientHello, read the answer, close),
#     run for as many connections against the same fleet;
#  3. the 64 servers with real handshakes behind them (the only ones OpenSSL
#     clients can finish a handshake with): mxscan (full enumeration plus its
#     full handshake), nmap, sslscan (xargs -P), and testssl.sh -e on the first
#     TESTSSL_HOSTS of them (it is slow), each with its result count;
#  4. HOLD connections held open at once (two fleets of 5,000 servers whose
#     greeting comes after 20 s): mxscan -c HOLD under ulimit -n 20000, its
#     achieved concurrency (sockets counted in /proc), and RSS per connection.
#
# Every figure is printed with its ratio to the peers measured in the same
# run. Prints figures, asserts nothing about time. Stops what it starts.
#
#   scripts/bench.sh                     everything (about 8 minutes on 2 cores; sslscan is most of it)
#   HOLD=0 scripts/bench.sh              skip the 10,000-connection run
#   PAR=16 TESTSSL_HOSTS=8 SUBSET=64 CONC=500 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
CONC=${CONC:-500}
PAR=${PAR:-16}
SUBSET=${SUBSET:-64}
TESTSSL_HOSTS=${TESTSSL_HOSTS:-4}
HOLD=${HOLD:-10000}
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
for t in nmap sslscan testssl; do
	command -v "$t" >/dev/null || { echo "bench.sh: $t is not installed (scripts/deps.sh --with-peers)" >&2; exit 1; }
done
[ -x "$BIN/mxscan" ] && [ -x "$BIN/mxfleet" ] || { echo "bench.sh: build first (make)" >&2; exit 1; }
make -s "$BIN/refclient" BIN="$BIN" >/dev/null
T=$(mktemp -d /tmp/mxscan-bench10.XXXXXX); chmod 755 "$T"
cleanup() {
	for f in fleet-a fleet-b hold-a hold-b; do scripts/fleet.sh stop "$T/$f" >/dev/null 2>&1 || true; done
	rm -rf "$T"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }
accepted() { cat "$T/fleet-a/fleet.log" "$T/fleet-b/fleet.log" | grep -c 'accepted (' || true; }
MX=("$BIN/mxscan" --allowlist 127.0.0.0/8 -q)

scripts/fleet.sh start "$T/fleet-a" datasets/fleet/bench1k-a.conf -- -v >/dev/null
scripts/fleet.sh start "$T/fleet-b" datasets/fleet/bench1k-b.conf -- -v >/dev/null
cat "$T/fleet-a/manifest.jsonl" "$T/fleet-b/manifest.jsonl" > "$T/manifest.jsonl"
"$PY" - "$T" "$SUBSET" <<'PYEOF'
import json, sys
t, subset = sys.argv[1], int(sys.argv[2])
allh, real = [], []
for l in sorted(open(f"{t}/manifest.jsonl"), key=lambda l: tuple(map(int, json.loads(l)["ip"].split(".")))):
    m = json.loads(l)
    allh.append(m["ip"])
    if m["tls"].get("real_handshake"):
        real.append(m["ip"])
open(f"{t}/all.txt", "w").write("".join(ip + "\n" for ip in allh))
open(f"{t}/real.txt", "w").write("".join(ip + "\n" for ip in real[:subset]))
PYEOF
nall=$(wc -l < "$T/all.txt"); nreal=$(wc -l < "$T/real.txt")
"$BIN/mxscan" --list-baseline > "$T/suites"
printf 'smtp\t25/tcp\t0.5\n' > "$T/services"

timed() { # NAME CMD... : wall ms, user+sys s, peak RSS kB, fleet connections -> $T/NAME.fig
	local name=$1; shift
	local a0 t0 t1 a1
	a0=$(accepted); t0=$(now_ms)
	/usr/bin/time -f '%U %S %M' -o "$T/$name.time" "$@"
	t1=$(now_ms); a1=$(accepted)
	read -r u s rss < "$T/$name.time"
	echo "$((t1 - t0)) $u $s $rss $((a1 - a0))" > "$T/$name.fig"
}

# 1. whole fleet: mxscan and nmap
timed mx_all "${MX[@]}" --enum full --no-handshake -c "$CONC" -i <(sed 's/$/:25/' "$T/all.txt") -o "$T/mx_all.ndjson"
timed nmap_all nmap -Pn -n --servicedb "$T/services" --script ssl-enum-ciphers -iL "$T/all.txt" \
	-oX "$T/nmap_all.xml" >/dev/null 2>&1
# 2. the floor: as many probe connections as mxscan made, by refclient
mxconn=$(cut -d' ' -f5 "$T/mx_all.fig")
awk -v n="$mxconn" '{ a[NR] = $0 } END { for (i = 0; i < n; i++) print a[i % NR + 1] ":25" }' "$T/all.txt" > "$T/ref.txt"
timed ref "$BIN/refclient" -c "$CONC" -S "$T/suites" < "$T/ref.txt" > "$T/ref.out"
# peak memory of an active enumeration: one thread, -c 1 on 40 hosts against -c 1000 on all
# (held connections are measured by scripts/bench-mem.sh)
timed mem1 "${MX[@]}" --enum full --no-handshake -t 1 -c 1 -i <(head -n 40 "$T/all.txt" | sed 's/$/:25/') -o "$T/mem1.ndjson"
timed memn "${MX[@]}" --enum full --no-handshake -t 1 -c 1000 -i <(sed 's/$/:25/' "$T/all.txt") -o "$T/memn.ndjson"
# 3. the real-handshake subset: mxscan (with its full handshake), nmap, sslscan, testssl.sh
timed mx_real "${MX[@]}" --enum full -c "$CONC" -i <(sed 's/$/:25/' "$T/real.txt") -o "$T/mx_real.ndjson"
timed nmap_real nmap -Pn -n --servicedb "$T/services" --script ssl-enum-ciphers -iL "$T/real.txt" \
	-oX "$T/nmap_real.xml" >/dev/null 2>&1
mkdir -p "$T/sslscan" "$T/testssl"
timed sslscan sh -c "sed 's/\$/:25/' '$T/real.txt' | xargs -P $PAR -I{} sh -c 'sslscan --no-colour --starttls-smtp {} > \"$T/sslscan/{}.txt\" 2>&1 || true'"
head -n "$TESTSSL_HOSTS" "$T/real.txt" > "$T/testssl.txt"
timed testssl sh -c "sed 's/\$/:25/' '$T/testssl.txt' | xargs -P $PAR -I{} sh -c 'testssl --quiet --color 0 --warnings off --starttls smtp --ip one -e --jsonfile \"$T/testssl/{}.json\" {} > /dev/null 2>&1 || true'"
timed mx_ts "${MX[@]}" --enum full -c "$CONC" -i <(sed 's/$/:25/' "$T/testssl.txt") -o "$T/mx_ts.ndjson"

# 4. HOLD connections held open at once
hold_line="skipped (HOLD=0)"
if [ "$HOLD" -gt 0 ]; then
	scripts/fleet.sh start "$T/hold-a" datasets/fleet/hold-a.conf >/dev/null
	scripts/fleet.sh start "$T/hold-b" datasets/fleet/hold-b.conf >/dev/null
	cat "$T/hold-a/manifest.jsonl" "$T/hold-b/manifest.jsonl" |
		"$PY" -c 'import json,sys
hs = [json.loads(l) for l in sys.stdin][:int(sys.argv[1])]
print("".join("%s:%d\n" % (m["ip"], m["port"]) for m in hs), end="")' "$HOLD" > "$T/hold.txt"
	nhold=$(wc -l < "$T/hold.txt")
	(
		ulimit -n 20000
		exec /usr/bin/time -f '%e %U %S %M' -o "$T/hold.time" "${MX[@]}" --enum quick --no-handshake \
			-c "$nhold" --banner-timeout 40 -i "$T/hold.txt" -o "$T/hold.ndjson.gz"
	) &
	hpid=$!
	mxpid=""
	for _ in $(seq 1 100); do
		mxpid=$(pgrep -P "$hpid" -x mxscan || true)
		[ -n "$mxpid" ] && break
		sleep 0.05
	done
	peak=0; peak_rss=0; base_rss=""; base_socks=0
	while kill -0 "$hpid" 2>/dev/null; do
		if [ -n "$mxpid" ] && [ -r "/proc/$mxpid/status" ]; then
			socks=$(find "/proc/$mxpid/fd" -lname 'socket:*' 2>/dev/null | wc -l || true)
			rss=$(awk '/^VmRSS/ {print $2}' "/proc/$mxpid/status" 2>/dev/null || echo 0)
			[ -z "$base_rss" ] && base_rss=$rss && base_socks=$socks
			[ "$socks" -gt "$peak" ] && peak=$socks && peak_rss=$rss
		fi
		sleep 0.5
	done
	wait "$hpid" || true
	read -r hwall hu hs hrss < "$T/hold.time"
	hold_ok=$(zcat "$T/hold.ndjson.gz" | grep -c '"type":"host"' || true)
	hold_peak=$(zcat "$T/hold.ndjson.gz" | grep '"event":"end"' | sed -n 's/.*"peak_active":\([0-9]*\).*/\1/p' || true)
	hold_line=$("$PY" -c 'import sys
n, peak, prss, base, bs, hwall, hu, hs, hrss, ok, pa = sys.argv[1:]
n, peak, prss, base, bs, hrss, ok = map(int, (n, peak, prss, base or 0, bs, hrss, ok))
per = (prss - base) * 1024 / (peak - bs) if peak > bs else 0
print(f"{n} targets, -c {n}: {peak} sockets open at once (sampled every 0.5 s), RSS {prss} kB at that peak "
      f"(first sample {base} kB with {bs} sockets): {per:.0f} bytes per added connection, "
      f"{prss * 1024 / max(peak, 1):.0f} bytes per connection all included; peak RSS {hrss} kB; "
      f"{ok} records in {float(hwall):.1f} s, CPU {float(hu) + float(hs):.2f} s; scan record peak_active {pa}")' \
		"$nhold" "$peak" "$peak_rss" "$base_rss" "$base_socks" "$hwall" "$hu" "$hs" "$hrss" "$hold_ok" "$hold_peak")
	scripts/fleet.sh stop "$T/hold-a" >/dev/null; scripts/fleet.sh stop "$T/hold-b" >/dev/null
fi

"$PY" - "$T" "$nall" "$nreal" "$TESTSSL_HOSTS" "$PAR" "$hold_line" <<'PYEOF'
import json, os, re, sys, glob
import xml.etree.ElementTree as ET
t, nall, nreal, nts, par, hold_line = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], sys.argv[6]

def fig(name):
    w, u, s, rss, conn = open(f"{t}/{name}.fig").read().split()
    return {"wall": int(w) / 1000.0, "cpu": float(u) + float(s), "rss": int(rss), "conn": int(conn)}

def mx_suites(path):
    out = {}
    for l in open(path):
        r = json.loads(l)
        if r.get("type") != "host":
            continue
        s = set()
        for v, info in r.get("tls", {}).get("versions", {}).items():
            for c in info.get("ciphers", []) if info.get("supported") else []:
                s.add((v, c["name"]))
        out[r["ip"]] = s
    return out

def nmap_suites(path):
    out = {}
    for h in ET.parse(path).getroot().iter("host"):
        ip = h.find("address").get("addr")
        s = set()
        for sc in h.iter("script"):
            if sc.get("id") != "ssl-enum-ciphers":
                continue
            for vt in sc.findall("table"):
                v = vt.get("key")
                for ct in vt.findall("table[@key='ciphers']/table"):
                    for e in ct.findall("elem[@key='name']"):
                        s.add((v, re.sub(r"^TLS_AKE_WITH_", "TLS_", e.text)))
        out[ip] = s
    return out

def agree(a, b, hosts):
    return sum(1 for ip in hosts if a.get(ip) and a.get(ip) == b.get(ip))

hosts_all = [l.strip() for l in open(f"{t}/all.txt")]
hosts_real = [l.strip() for l in open(f"{t}/real.txt")]
mx, nm, ref = fig("mx_all"), fig("nmap_all"), fig("ref")
mxs, nms = mx_suites(f"{t}/mx_all.ndjson"), nmap_suites(f"{t}/nmap_all.xml")
print(f"== 1. full enumeration of {nall} fleet servers (STARTTLS, port 25), same run ==")
for name, f, res in (("mxscan", mx, mxs), ("nmap", nm, nms)):
    n_ok = sum(1 for ip in hosts_all if res.get(ip))
    print(f"{name:8} {f['wall']:8.2f} s wall  {nall / f['wall']:7.1f} hosts/s  {f['conn'] / f['wall']:8.0f} conn/s  "
          f"{f['cpu']:7.2f} s CPU  {f['conn'] / nall:5.1f} conn/host  {f['rss']:7d} kB peak RSS  {n_ok} hosts with suites")
print(f"ratio    nmap/mxscan: wall {nm['wall'] / mx['wall']:.1f}x, CPU {nm['cpu'] / max(mx['cpu'], 0.01):.1f}x, "
      f"connections {nm['conn'] / max(mx['conn'], 1):.2f}x; same suites per version on "
      f"{agree(mxs, nms, hosts_all)}/{nall} hosts")
refout = open(f"{t}/ref.out").read().strip()
print(f"\n== 2. CPU per 1,000 probe connections against the same fleet ==")
print(f"mxscan    {1000 * mx['cpu'] / max(mx['conn'], 1):.3f} s  ({mx['conn']} connections, full enumeration)")
print(f"refclient {1000 * ref['cpu'] / max(ref['conn'], 1):.3f} s  ({ref['conn']} connections; {refout})")
print(f"ratio     mxscan/refclient {(mx['cpu'] / max(mx['conn'], 1)) / max(ref['cpu'] / max(ref['conn'], 1), 1e-9):.2f}x "
      f"(aim: within 1.5x); nmap/refclient {(nm['cpu'] / max(nm['conn'], 1)) / max(ref['cpu'] / max(ref['conn'], 1), 1e-9):.1f}x")

m1, mn = fig("mem1"), fig("memn")
def peak_active(path):
    for l in open(path):
        r = json.loads(l)
        if r.get("type") == "scan" and r.get("event") == "end":
            return r.get("peak_active", 0)
    return 0
p1, pn = peak_active(f"{t}/mem1.ndjson"), peak_active(f"{t}/memn.ndjson")
print(f"\n== peak memory of an active enumeration (one thread, no full handshake) ==")
print(f"mxscan   -c 1 on 40 hosts: peak RSS {m1['rss']} kB ({p1} in flight); -c 1000 on all: {mn['rss']} kB ({pn} in flight): "
      f"{(mn['rss'] - m1['rss']) * 1024 / max(pn - p1, 1):.0f} bytes per added connection, an upper bound: it also counts "
      f"what grows with hosts (records waiting for the writer, kept chains) and the read buffers of connections "
      f"mid-read at the peak; held connections: scripts/bench-mem.sh (aim 4096 bytes)")
print(f"refclient peak RSS {ref['rss']} kB at -c {os.environ.get('CONC', '500')} in flight, all included")
print(f"\n== 3. the {nreal} servers with real handshakes (OpenSSL peers can finish them) ==")
mr, nr, ss, ts, mts = fig("mx_real"), fig("nmap_real"), fig("sslscan"), fig("testssl"), fig("mx_ts")
mrs, nrs = mx_suites(f"{t}/mx_real.ndjson"), nmap_suites(f"{t}/nmap_real.xml")
ss_ok = 0
ss_agree = 0
for ip in hosts_real:
    try:
        txt = open(f"{t}/sslscan/{ip}:25.txt").read()
    except OSError:
        continue
    got = set()
    for m in re.finditer(r"^(Preferred|Accepted)\s+(TLSv1\.[0-3]|SSLv3)\s+\d+ bits\s+(\S+)", txt, re.M):
        got.add((m.group(2), m.group(3)))
    if got:
        ss_ok += 1
        ss_agree += got == mrs.get(ip)
ts_ok, ts_agree = 0, 0
tshosts = [l.strip() for l in open(f"{t}/testssl.txt")]
mts_codes = {}  # ip -> the suite codes mxscan listed for it, every version
for l in open(f"{t}/mx_ts.ndjson"):
    r = json.loads(l)
    if r.get("type") == "host":
        mine = mts_codes.setdefault(r["ip"], set())
        for v, info in r["tls"].get("versions", {}).items():
            for c in info.get("ciphers", []):
                mine.add(c["code"][2:].lower())
for ip in tshosts:
    try:
        d = json.load(open(f"{t}/testssl/{ip}:25.json"))
    except (OSError, ValueError):
        continue
    codes = {x["id"][len("cipher_x"):].lower().rjust(4, "0") for x in d if x.get("id", "").startswith("cipher_x")}
    if codes:
        ts_ok += 1
        ts_agree += mts_codes.get(ip, set()) == codes
print(f"mxscan   {mr['wall']:7.2f} s wall  {mr['cpu']:6.2f} s CPU  {mr['conn'] / nreal:5.1f} conn/host  "
      f"{sum(1 for ip in hosts_real if mrs.get(ip))}/{nreal} hosts enumerated (+ one full handshake each)")
print(f"nmap     {nr['wall']:7.2f} s wall  {nr['cpu']:6.2f} s CPU  {nr['conn'] / nreal:5.1f} conn/host  "
      f"{sum(1 for ip in hosts_real if nrs.get(ip))}/{nreal}; same suites as mxscan on {agree(mrs, nrs, hosts_real)}")
print(f"sslscan  {ss['wall']:7.2f} s wall  {ss['cpu']:6.2f} s CPU  {ss['conn'] / nreal:5.1f} conn/host  "
      f"{ss_ok}/{nreal} hosts with accepted suites, same suites as mxscan on {ss_agree} (xargs -P {par})")
print(f"testssl  {ts['wall']:7.2f} s wall  {ts['cpu']:6.2f} s CPU  {ts['conn'] / max(nts, 1):5.1f} conn/host  "
      f"{ts_ok}/{nts} hosts with suites, same suites as mxscan on {ts_agree} (first {nts} hosts, xargs -P {par}; "
      f"mxscan on these {nts}: {mts['wall']:.2f} s wall, {mts['cpu']:.2f} s CPU)")
print(f"ratio    wall per host vs mxscan: nmap {nr['wall'] / mr['wall']:.1f}x, sslscan {ss['wall'] / mr['wall']:.1f}x, "
      f"testssl.sh {(ts['wall'] / max(nts, 1)) / (mr['wall'] / nreal):.0f}x (per host; {(ts['wall']) / max(mts['wall'], 0.001):.0f}x on the same {nts}); "
      f"CPU: nmap {nr['cpu'] / max(mr['cpu'], 0.01):.1f}x, sslscan {ss['cpu'] / max(mr['cpu'], 0.01):.1f}x, "
      f"testssl.sh {ts['cpu'] / max(mts['cpu'], 0.01):.0f}x")
print(f"\n== 4. connections held open at once ==\nmxscan   {hold_line}")
PYEOF
