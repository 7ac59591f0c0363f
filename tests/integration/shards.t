#!/usr/bin/env bash
# --shards N --shard I --seed S: a deterministic partition of the targets.
# For N = 1, 3, 7 and two seeds, every shard is run on its own shuffled copy
# of the same input (IP:port targets, zgrab2 CSV lines, mail domains,
# duplicates); the keys of the records they write (ip:port of host records,
# domain of domain records) must cover the whole input exactly once: the
# union is the input, no two shards overlap, and input order does not matter.
# Targets are closed ports on 127.30.x.x (connection refused at once) and
# domains whose resolver (127.30.0.1:5399) does not answer: every target
# still gets a record. mxreport reads the shard files as one scan.
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin}
PY=$(command -v python3)
T=$(mktemp -d /tmp/mxscan-shards.XXXXXX)
trap 'rm -rf "$T"' EXIT
n=0
t() { n=$((n+1)); if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
echo "1..20"

# 300 addresses x 2 ports, 40 CSV lines, 60 domains, 30 duplicates
{
	for a in $(seq 1 150); do echo "127.30.1.$a:9"; echo "127.30.2.$a:19"; echo "127.30.3.$a:9"; echo "127.30.3.$a:19"; done | head -600
	for a in $(seq 1 40); do echo "127.30.4.$a,mx$a.shard.test,tag$a,9"; done
	for a in $(seq 1 60); do echo "d$a.Shard.test"; done
	for a in $(seq 1 30); do echo "127.30.1.$a:9"; done
} > "$T/input"
"$PY" - "$T/input" > "$T/expect" <<'PYEOF'
import sys
keys = set()
for l in open(sys.argv[1]):
    l = l.strip()
    if ',' in l:
        f = l.split(',')
        keys.add(f"host {f[0]}:{f[3]}")
    elif l[0].isdigit():
        keys.add("host " + l)
    else:
        keys.add("domain " + l.lower())
for k in sorted(keys):
    print(k)
PYEOF
total=$(wc -l < "$T/expect")

keys() { # records -> sorted keys
	"$PY" -c 'import json,sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["type"] == "host": print("host %s:%d" % (r["ip"], r["port"]))
    elif r["type"] == "domain": print("domain " + r["domain"].lower())' "$1"
}

scan() { # N I SEED OUT
	shuf --random-source=<(yes "$2$3") "$T/input" > "$T/in.$1.$2"
	"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -c 100 --connect-timeout 3 --resolver 127.30.0.1:5399 \
		--scan-id "shards-$1-$3" --shards "$1" --shard "$2" --seed "$3" -i "$T/in.$1.$2" > "$4" 2>"$4.err"
}

for seed in 0 12345; do
	for N in 1 3 7; do
		: > "$T/all.$N.$seed"
		rcs=0
		for i in $(seq 0 $((N - 1))); do
			scan "$N" "$i" "$seed" "$T/out.$N.$i.$seed" || rcs=1
			keys "$T/out.$N.$i.$seed" > "$T/k.$N.$i.$seed"
			cat "$T/k.$N.$i.$seed" >> "$T/all.$N.$seed"
		done
		[ $rcs = 0 ]; t $? "N=$N seed=$seed: every shard exits 0"
		dups=$(sort "$T/all.$N.$seed" | uniq -d | wc -l)
		sort -u "$T/all.$N.$seed" | cmp -s - "$T/expect" && [ "$dups" = 0 ]
		t $? "N=$N seed=$seed: union of $N shards = the $total input targets, no overlap ($dups keys in two shards)"
	done
done

# every shard of N=7 got a share, and the seed changes the partition
empty=0
for i in $(seq 0 6); do [ -s "$T/k.7.$i.0" ] || empty=1; done
[ $empty = 0 ]; t $? "N=7: no shard is empty"
cmp -s "$T/k.3.0.0" "$T/k.3.0.12345"; [ $? != 0 ]; t $? "a different seed gives a different partition"

# the same shard on a differently ordered input takes the same targets
shuf --random-source=<(yes other) "$T/input" > "$T/in.other"
"$BIN/mxscan" --allowlist 127.0.0.0/8 -q -c 100 --resolver 127.30.0.1:5399 --shards 3 --shard 1 --seed 0 \
	-i "$T/in.other" > "$T/out.other" 2>/dev/null
cmp -s <(keys "$T/out.other" | sort) <(sort "$T/k.3.1.0"); t $? "shard 1 of 3 takes the same targets whatever the input order"

# the scan record says which shard it is and how many targets went elsewhere
"$PY" - "$T/out.3.2.12345" "$T/k.3.2.12345" "$total" <<'PYEOF'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
s = [r for r in recs if r["type"] == "scan" and r["event"] == "start"][0]
mine = sum(1 for _ in open(sys.argv[2]))
ok = s["shards"] == 3 and s["shard"] == 2 and s["seed"] == 12345 and s["other_shards"] + mine == int(sys.argv[3])
sys.exit(0 if ok else 1)
PYEOF
t $? "scan record: shards, shard, seed, other_shards (+ this shard's targets = input)"
scripts/validate-records "$T/out.3.2.12345" >/dev/null 2>&1; t $? "shard records validate against the schema"

# mxreport reads the shard outputs as one scan
"$BIN/mxreport" json "$T/out.1.0.0" > "$T/r1.json" && "$BIN/mxreport" json "$T"/out.7.?.0 > "$T/r7.json"
"$PY" - "$T/r1.json" "$T/r7.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ok = (a["records"]["host"] == b["records"]["host"] and a["records"]["domain"] == b["records"]["domain"]
      and len(b["scan_ids"]) == 1 and a["tables"]["status"]["counts"] == b["tables"]["status"]["counts"])
sys.exit(0 if ok else 1)
PYEOF
t $? "mxreport over the 7 shard files: same hosts, domains and status counts as the unsharded scan, one scan id"

"$BIN/mxscan" --shards 3 127.30.1.1 >/dev/null 2>"$T/e"; [ $? = 1 ] && grep -q -- '--shard between 0 and 2' "$T/e"
t $? "--shards without --shard is refused (exit 1, remedy named)"
"$BIN/mxscan" --shards 3 --shard 3 127.30.1.1 >/dev/null 2>&1; [ $? = 1 ]; t $? "--shard out of range is refused"
