#!/usr/bin/env bash
# mxscan over several machines with GNU parallel and ssh: one shard per
# machine listed in HOSTS_FILE (one ssh login per line), results copied back.
# An example, not run in CI (it needs machines to ssh to and GNU parallel).
#
#   scripts/shards/parallel-ssh.sh hosts.txt targets.txt optout.conf
#   mxreport summary results/shard-*.ndjson.gz
#
# Each machine needs mxscan installed (the same version everywhere: the shard
# hash is part of it). seq gives the shard numbers 0..N-1; -j1 with N ssh
# logins runs one shard per machine at a time.
set -euo pipefail
HOSTS_FILE=${1:?usage: parallel-ssh.sh HOSTS_FILE TARGETS OPTOUT}
TARGETS=${2:?usage: parallel-ssh.sh HOSTS_FILE TARGETS OPTOUT}
OPTOUT=${3:?usage: parallel-ssh.sh HOSTS_FILE TARGETS OPTOUT}
N=$(grep -c . "$HOSTS_FILE")
SEED=${SEED:-20261121}
SCAN_ID=${SCAN_ID:-mx-$(date -u +%Y%m%d)}
mkdir -p results
# shard i runs on the i-th machine: --sshloginfile with one job per machine,
# the input and opt-out list sent along (--basefile), the result fetched back
# (--return) and removed there (--cleanup)
seq 0 $((N - 1)) | parallel -j1 --sshloginfile "$HOSTS_FILE" --basefile "$TARGETS" --basefile "$OPTOUT" \
	--return "shard-{}.ndjson.gz" --cleanup --line-buffer --tagstring 'shard {}' \
	mxscan --shards "$N" --shard {} --seed "$SEED" --scan-id "$SCAN_ID" --ehlo scan.example.org \
	--optout "$(basename "$OPTOUT")" --per-ip 2 --rate 500 -c 2000 \
	-i "$(basename "$TARGETS")" -o "shard-{}.ndjson.gz"
mv shard-*.ndjson.gz results/
echo "parallel-ssh.sh: $N shards in results/; read them as one scan: mxreport summary results/shard-*.ndjson.gz"
