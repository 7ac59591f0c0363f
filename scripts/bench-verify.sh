#!/bin/sh
# bench-verify.sh [SECONDS]: how fast scanner/verify.c verifies a chain, and its memory cost.
#
# Makes the test certificates (scripts/certs.sh) under build/bench-verify/, appends the test
# CA to the system bundle (so the 2-certificate chain verifies for real against ~145 roots,
# index built once), builds tests/bench/bench_verify.c with cc and runs it for SECONDS per
# figure (default 2): verifications per second (1 and 2 threads sharing the index), the
# leaf-alone case (code 20), the RECIPES §1.5 baseline (whole bundle loaded per chain), and
# RSS / heap growth per verification.
set -eu
secs=${1:-2}
cd "$(dirname "$0")/.."
bundle=/etc/ssl/certs/ca-certificates.crt
if [ ! -r "$bundle" ]; then
	echo "bench-verify.sh: $bundle not readable; apt-get install ca-certificates" >&2
	exit 2
fi
out=build/bench-verify
mkdir -p "$out"
scripts/certs.sh "$out/certs" > /dev/null
cat "$bundle" "$out/certs/ca.pem" > "$out/roots.pem"
${CC:-cc} -std=c17 -O2 -Wall -Wextra -D_GNU_SOURCE -Iinclude tests/bench/bench_verify.c scanner/verify.c \
	-o "$out/bench_verify" -lwolfssl -lpthread
echo "bench-verify: $(nproc) CPU(s), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
"$out/bench_verify" "$out/roots.pem" "$out/certs/valid.chain.pem" "$out/certs/missing-intermediate.chain.pem" "$secs"
