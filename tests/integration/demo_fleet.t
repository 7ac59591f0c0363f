#!/usr/bin/env bash
# The demo end to end (fleet + DNS + scan + summary) in a temporary directory:
# every host of the demo fleet must match the manifest's ground truth exactly
# (status, failure stage and reason, baseline version and suite), every record
# must be valid against the schema, and nothing may be left running.
set -uo pipefail
cd "$(dirname "$0")/../.."
export BIN=${BIN:-bin}
T=$(mktemp -d /tmp/mxscan-demo.XXXXXX); chmod 755 "$T"
trap 'rm -rf "$T"' EXIT
echo "1..4"
DEMO_OUT="$T/demo" scripts/demo.sh > "$T/log" 2>&1; rc=$?
[ $rc = 0 ] && echo "ok 1 - demo ran and matched the ground truth" || { echo "not ok 1 - demo exit $rc"; tail -20 "$T/log" | sed 's/^/# /'; }
if [ -f "$T/demo/groundtruth.tap" ]; then
  bad=$(grep -c '^not ok' "$T/demo/groundtruth.tap"); good=$(grep -c '^ok' "$T/demo/groundtruth.tap")
  [ "$bad" = 0 ] && [ "$good" -ge 100 ] && echo "ok 2 - $good ground-truth checks, none failed" \
    || { echo "not ok 2 - ground truth: $bad failed, $good passed"; grep '^not ok' "$T/demo/groundtruth.tap" | head | sed 's/^/# /'; }
else echo "not ok 2 - no ground-truth file"; fi
grep -q 'validate-records: .* 0 invalid' "$T/log" && echo "ok 3 - records valid against the schema" || echo "not ok 3 - schema validation"
left=""
for f in "$T/demo/fleet/fleet.pid" "$T/demo/dns/knot.pid"; do
  [ -f "$f" ] && p=$(cat "$f") && [ -d "/proc/$p" ] && ! grep -q '^State:.*Z' "/proc/$p/status" && left="$left $p"
done
[ -z "$left" ] && echo "ok 4 - fleet and DNS stopped" || echo "not ok 4 - still running:$left"
