#!/bin/sh
# fuzz.sh [SECONDS [NAME...]]: build every tests/fuzz/fuzz_*.c harness (or only the
# NAMEs given, e.g. dns cert) with clang, libFuzzer, ASan and UBSan, and run each for
# SECONDS (default 30), one after the other.
#
# Each harness names the scanner sources it links on a line of its own near the
# top:  // fuzz-sources: scanner/hello.c [scanner/other.c ...]   (several such lines add up)
# and, when it needs more than wolfSSL, the libraries:  // fuzz-libs: -lcares -lz
# Seeds come from tests/fuzz/corpus/NAME/ (NAME = harness name without
# "fuzz_"); they are read, never written: new inputs go to build/fuzz/NAME.corpus/.
# Crash reproducers land in build/fuzz/ as fuzz_NAME-crash-*. After each run one
# line "fuzz.sh: fuzz_NAME: N execs in S s (R/s), corpus C" (from libFuzzer's final
# stats) is printed; build/fuzz/NAME.log keeps the run's full output. Exits non-zero
# when a harness fails to build or any run finds a crash, leak or timeout.
set -u
secs=${1:-30}
[ $# -gt 0 ] && shift
only=" $* "
case $secs in
'' | *[!0-9]*) echo "fuzz.sh: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;;
esac
cd "$(dirname "$0")/.." || exit 2
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "fuzz.sh: $CC not found; install clang (apt-get install clang) or set FUZZ_CC" >&2
	exit 2
fi
out=build/fuzz
mkdir -p "$out"
failed=0
ran=0
for h in tests/fuzz/fuzz_*.c; do
	[ -e "$h" ] || continue
	name=$(basename "$h" .c)
	short=${name#fuzz_}
	[ "$only" = "  " ] || case $only in *" $short "*) ;; *) continue ;; esac
	srcs=$(sed -n 's|^// fuzz-sources:||p' "$h" | tr '\n' ' ')
	libs=$(sed -n 's|^// fuzz-libs:||p' "$h" | tr '\n' ' ')
	if [ -z "$srcs" ]; then
		echo "fuzz.sh: $h has no '// fuzz-sources:' line" >&2
		failed=1
		continue
	fi
	# shellcheck disable=SC2086 # srcs and libs are lists
	if ! "$CC" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-D_GNU_SOURCE -Iinclude -Itests "$h" $srcs -o "$out/$name" -lwolfssl $libs; then
		echo "fuzz.sh: $name: build failed" >&2
		failed=1
		continue
	fi
	work="$out/$short.corpus"
	mkdir -p "$work"
	seeds="tests/fuzz/corpus/$short"
	[ -d "$seeds" ] || seeds=
	echo "fuzz.sh: running $name for ${secs}s"
	# shellcheck disable=SC2086 # seeds may be empty
	"$out/$name" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
		-artifact_prefix="$out/$name-" "$work" $seeds >"$out/$short.log" 2>&1
	rc=$?
	tail -25 "$out/$short.log"
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$short.log" | tail -1)
	tsecs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$out/$short.log" | tail -1)
	ncorp=$(find "$work" -type f | wc -l)
	echo "fuzz.sh: $name: ${execs:-?} execs in ${tsecs:-$secs} s ($(( ${execs:-0} / ( ${tsecs:-$secs} > 0 ? ${tsecs:-$secs} : 1 ) ))/s), corpus $ncorp"
	if [ $rc -ne 0 ]; then
		echo "fuzz.sh: $name FAILED; reproducers: $out/$name-*" >&2
		failed=1
	fi
	ran=$((ran + 1))
done
echo "fuzz.sh: $ran harness(es) run, $( [ $failed -eq 0 ] && echo no failures || echo FAILURES)"
exit $failed
