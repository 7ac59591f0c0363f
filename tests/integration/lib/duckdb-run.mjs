// Run a DuckDB SQL file (docs/sql/duckdb.sql) with @duckdb/node-api and print, for every query
// introduced by a "-- name: ID" line, one JSON line {"name": ID, "rows": [...]}.
//   node duckdb-run.mjs SQLFILE RECORDS...
// Extensions are never downloaded: autoinstall is off (json is built into the npm binary).
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';

const [sqlFile, ...records] = process.argv.slice(2);
const inst = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false' });
const con = await inst.connect();
const list = records.map((r) => `'${r.replaceAll("'", "''")}'`).join(', ');
await con.run(`SET VARIABLE records = [${list}]`);
const parts = readFileSync(sqlFile, 'utf8').split(/^-- name: /m);
await con.run(parts[0]); // views
for (const part of parts.slice(1)) {
  const name = part.slice(0, part.indexOf('\n')).trim();
  const reader = await con.runAndReadAll(part.slice(part.indexOf('\n') + 1));
  console.log(JSON.stringify({ name, rows: reader.getRowObjectsJson() }));
}
