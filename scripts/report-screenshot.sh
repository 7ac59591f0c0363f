#!/usr/bin/env bash
# Open an mxreport HTML page in headless Chromium (Debian's chromium) and save what it renders.
#
#   scripts/report-screenshot.sh [--size WIDTHxHEIGHT] REPORT.html OUT.png
#
# Writes OUT.png (a screenshot of the first WIDTHxHEIGHT pixels, default 1280x4000), OUT.dom.html
# (the DOM after Chromium parsed and laid out the page: what --dump-dom prints) and
# OUT.console.log (every JavaScript console message and failed load Chromium logged; the page has
# no script, so it should stay empty). Exit status: 0 rendered with an empty console log; 1 usage
# or Chromium failed or wrote no PNG; 2 rendered, but the console log is not empty.
#
# Chromium never touches the network here: the page is opened as file://, background
# networking, component updates, sync, extensions and default apps are off, and every host name
# resolves to NOTFOUND (--host-resolver-rules). A fresh profile directory is used and removed.
# --no-sandbox is needed when running as root (CI containers).
set -euo pipefail
size=1280x4000
if [ "${1:-}" = --size ]; then size=$2; shift 2; fi
[ $# = 2 ] || { echo "usage: report-screenshot.sh [--size WxH] REPORT.html OUT.png" >&2; exit 1; }
[[ $size =~ ^[0-9]+x[0-9]+$ ]] || { echo "report-screenshot.sh: --size is WIDTHxHEIGHT, e.g. 1280x4000" >&2; exit 1; }
[ -r "$1" ] || { echo "report-screenshot.sh: cannot read $1" >&2; exit 1; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] || { echo "report-screenshot.sh: chromium not found (apt-get install chromium)" >&2; exit 1; }
page="file://$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
out=$2
profile=$(mktemp -d /tmp/report-screenshot.XXXXXX)
trap 'rm -rf "$profile"' EXIT
args=(--headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check
  --disable-background-networking --disable-component-update --disable-sync --disable-extensions
  --disable-default-apps --disable-domain-reliability --disable-breakpad --metrics-recording-only
  --no-pings "--host-resolver-rules=MAP * ~NOTFOUND" --user-data-dir="$profile"
  --enable-logging=stderr --v=0 --window-size="${size/x/,}" --hide-scrollbars)
rm -f "$out"
timeout 120 "$CHROMIUM" "${args[@]}" --dump-dom "$page" > "$out.dom.html" 2> "$profile/dom.err" || {
  echo "report-screenshot.sh: chromium --dump-dom failed:" >&2; tail -5 "$profile/dom.err" >&2; exit 1; }
timeout 120 "$CHROMIUM" "${args[@]}" --screenshot="$out" "$page" > /dev/null 2> "$profile/shot.err" || {
  echo "report-screenshot.sh: chromium --screenshot failed:" >&2; tail -5 "$profile/shot.err" >&2; exit 1; }
[ -s "$out" ] || { echo "report-screenshot.sh: chromium wrote no $out" >&2; exit 1; }
# console messages (INFO:CONSOLE / ERROR:CONSOLE) and failed loads (net::ERR_...)
grep -hE ':CONSOLE[(:]|net::ERR_|Failed to load resource|Refused to' "$profile/dom.err" "$profile/shot.err" \
  > "$out.console.log" || true
if [ -s "$out.console.log" ]; then
  echo "report-screenshot.sh: the page logged $(wc -l < "$out.console.log") console message(s): $out.console.log" >&2
  exit 2
fi
echo "report-screenshot.sh: $out ($(stat -c %s "$out") bytes), $out.dom.html, empty console log" >&2
