#!/usr/bin/env bash
# fuzz_replay.t: every libFuzzer harness of tests/fuzz/ built with the ordinary compiler and
# tests/fuzz/replay.c as main(), run over its seed corpus (tests/fuzz/corpus/NAME/) and its
# crash reproducers (tests/fuzz/regress/NAME/). One TAP line per harness: it builds, and no
# input fails a check or (under make asan) trips AddressSanitizer/UBSan. This keeps fixed fuzz
# findings fixed without clang or a fuzzing run.
# Build tree: $MXSCAN_BUILD, else the parent of $BIN when BIN ends in /bin (make asan), else build.
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -n "${MXSCAN_BUILD:-}" ]; then
	build=$MXSCAN_BUILD
elif [ -n "${BIN:-}" ] && [ "${BIN%/bin}" != "$BIN" ]; then
	build=${BIN%/bin}
else
	build=build
fi
CC=${CC:-cc}
san=
case $build in *asan*) san="-fsanitize=address,undefined -fno-sanitize-recover=undefined" ;; esac
out=$build/fuzz-replay
mkdir -p "$out"
harnesses=$(ls tests/fuzz/fuzz_*.c)
echo "1..$(echo "$harnesses" | wc -l)"
n=0
for h in $harnesses; do
	n=$((n + 1))
	name=$(basename "$h" .c)
	short=${name#fuzz_}
	srcs=$(sed -n 's|^// fuzz-sources:||p' "$h" | tr '\n' ' ')
	libs=$(sed -n 's|^// fuzz-libs:||p' "$h" | tr '\n' ' ')
	# shellcheck disable=SC2086 # lists of paths and flags
	if ! $CC -std=gnu17 -g -O1 $san -D_GNU_SOURCE -Iinclude -Itests "$h" tests/fuzz/replay.c $srcs \
		-o "$out/$name" -lwolfssl $libs -lm 2>"$out/$name.build.log"; then
		echo "not ok $n - $name: build failed"
		sed 's/^/# /' "$out/$name.build.log" | head -10
		continue
	fi
	"$out/$name" "tests/fuzz/corpus/$short" "tests/fuzz/regress/$short" >"$out/$name.tap" 2>"$out/$name.err"
	rc=$?
	inputs=$(grep -c '^ok ' "$out/$name.tap")
	if [ $rc -eq 0 ] && grep -q "^1\.\.$inputs\$" "$out/$name.tap" && [ "$inputs" -gt 0 ]; then
		echo "ok $n - $name: $inputs inputs replayed (seeds + reproducers)"
	else
		echo "not ok $n - $name: exit $rc after $inputs inputs"
		tail -1 "$out/$name.tap" | sed 's/^/# last: /'
		sed 's/^/# /' "$out/$name.err" | head -15
	fi
done
