#!/usr/bin/env bash
# Install DuckDB for Node.js (npm @duckdb/node-api, which ships the DuckDB library inside its
# platform package @duckdb/node-bindings-linux-x64: no separate download) into a directory of
# the build tree, once, and print that directory. Debian 12 has no DuckDB package.
#
#   scripts/duckdb-node.sh [DIR]      (default build/duckdb-node)
#   node DIR/duckdb-run.mjs docs/sql/duckdb.sql scan.ndjson.gz    (the runner is copied there)
#
# Needs node and npm (Debian: apt-get install nodejs npm; scripts/deps.sh adds them when npm is
# missing). Exit 1 when npm is missing or the install fails; tests then skip the DuckDB check.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=${1:-$ROOT/build/duckdb-node}
VERSION=1.5.6-r.1
command -v node > /dev/null && command -v npm > /dev/null ||
  { echo "duckdb-node.sh: node and npm are needed (apt-get install nodejs npm)" >&2; exit 1; }
mkdir -p "$DIR"
if ! grep -qs "\"version\": \"$VERSION\"" "$DIR/node_modules/@duckdb/node-api/package.json"; then
  (cd "$DIR" && npm install --no-audit --no-fund --no-save --loglevel=error "@duckdb/node-api@$VERSION" >&2) ||
    { echo "duckdb-node.sh: npm install @duckdb/node-api@$VERSION failed" >&2; exit 1; }
fi
cp "$ROOT/tests/integration/lib/duckdb-run.mjs" "$DIR/duckdb-run.mjs"
echo "$DIR"
