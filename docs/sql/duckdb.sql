-- mxscan's headline tables in DuckDB, straight from the records (NDJSON, gzip or plain).
--
--   duckdb -c "SET VARIABLE records = 'scan.ndjson.gz'" -c ".read docs/sql/duckdb.sql"
--   (shards: SET VARIABLE records = 'shard-*.ndjson.gz'; a list works too: ['a.gz', 'b.gz'])
--
-- Every query returns label, n, denominator, share (percent), the same numbers as
-- `mxreport json` (tables.ID.counts and .denominator) for the table named in its "-- name:" line;
-- tests/integration/report_fleet.t runs this file on a real scan and compares.
-- Checked with DuckDB 1.5.6 (npm @duckdb/node-api). read_json with explicit columns reads only
-- the fields used here and gives NULL where a record lacks one, so the queries work on any mix of
-- record types and scan options; read_json_auto('scan.ndjson.gz') is handy for exploring.

CREATE OR REPLACE TEMP VIEW records AS
SELECT * FROM read_json(getvariable('records'),
  format = 'newline_delimited',
  maximum_object_size = 16777216,   -- records with --trace-probes can be large
  columns = {
    type: 'VARCHAR', schema: 'VARCHAR', ip: 'VARCHAR', port: 'INTEGER', mode: 'VARCHAR',
    names: 'VARCHAR[]', status: 'VARCHAR',
    geo: 'STRUCT(country VARCHAR, asn UBIGINT, as_org VARCHAR)',
    failure: 'STRUCT(stage VARCHAR, reason VARCHAR, detail VARCHAR)',
    smtp: 'STRUCT(ehlo VARCHAR[], starttls VARCHAR)',
    tls: 'STRUCT(baseline STRUCT(version VARCHAR, cipher VARCHAR),
                 versions MAP(VARCHAR, STRUCT(supported BOOLEAN)),
                 least_grade VARCHAR,
                 certificate STRUCT(verify STRUCT(code INTEGER, text VARCHAR)))',
    domain: 'VARCHAR', mx_status: 'VARCHAR',
    verdict: 'STRUCT(tls VARCHAR, starttls_offered VARCHAR)'
  });

CREATE OR REPLACE TEMP VIEW hosts AS SELECT * FROM records WHERE type = 'host' AND schema = '1';
CREATE OR REPLACE TEMP VIEW domains AS SELECT * FROM records WHERE type = 'domain' AND schema = '1';

-- name: status
-- hosts by status (of all host records)
SELECT coalesce(status, '(no status)') AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM hosts GROUP BY ALL ORDER BY n DESC, label;

-- name: starttls
-- STARTTLS in the EHLO reply: offered / absent / stripped (of STARTTLS-mode hosts that answered EHLO)
SELECT coalesce(smtp.starttls, 'unknown') AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM hosts WHERE mode = 'starttls' AND smtp.ehlo IS NOT NULL GROUP BY ALL ORDER BY n DESC, label;

-- name: starttls_working
-- STARTTLS offered and working: of the hosts that offered STARTTLS, how many answered a
-- ClientHello with a ServerHello (label "tls") and how many did not ("no tls", see failures)
SELECT CASE WHEN tls.baseline.version IS NOT NULL THEN 'tls' ELSE 'no tls' END AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM hosts WHERE mode = 'starttls' AND smtp.starttls = 'offered' GROUP BY ALL ORDER BY n DESC, label;

-- name: versions_supported
-- TLS versions supported (of hosts whose versions were enumerated; a host counts once per version)
WITH enumerated AS (SELECT tls.versions AS v FROM hosts WHERE tls.versions IS NOT NULL),
     total AS (SELECT count(*) AS d FROM enumerated)
SELECT ver AS label, count(v) FILTER (WHERE v[ver].supported) AS n,
       any_value(d) AS denominator, round(100.0 * n / nullif(any_value(d), 0), 1) AS share
FROM (VALUES ('TLSv1.3'), ('TLSv1.2'), ('TLSv1.1'), ('TLSv1.0'), ('SSLv3')) AS t(ver)
     CROSS JOIN total LEFT JOIN enumerated ON true
GROUP BY ver ORDER BY ver = 'SSLv3', ver DESC;

-- name: least_grade
-- least grade (nmap's least strength) of the suites a host accepts (of graded hosts)
SELECT tls.least_grade AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM hosts WHERE tls.least_grade IS NOT NULL GROUP BY ALL ORDER BY label;

-- name: verify
-- certificate verification, OpenSSL verify code and text (of hosts with a certificate chain)
SELECT coalesce(tls.certificate.verify.code || ' ' || coalesce(tls.certificate.verify.text, ''), '(no code)') AS label,
       count(*) AS n, sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM hosts WHERE tls.certificate.verify IS NOT NULL GROUP BY ALL ORDER BY n DESC, label;

-- name: failures
-- failure reasons, "stage: reason" (of all host records; hosts without a failure are not listed)
SELECT label, n, denominator, round(100.0 * n / denominator, 1) AS share
FROM (SELECT coalesce(failure.stage, '?') || ': ' || coalesce(failure.reason, '?') AS label, count(*) AS n
      FROM hosts WHERE failure IS NOT NULL GROUP BY ALL),
     (SELECT count(*) AS denominator FROM hosts)
ORDER BY n DESC, label;

-- name: domain_tls
-- domains: do their MX hosts speak TLS? all / some / none / unknown (of domain records)
SELECT coalesce(verdict.tls, '(not given)') AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM domains GROUP BY ALL ORDER BY n DESC, label;

-- name: domain_starttls
-- domains: do their MX hosts offer STARTTLS? all / some / none / unknown (of domain records)
SELECT coalesce(verdict.starttls_offered, '(not given)') AS label, count(*) AS n,
       sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share
FROM domains GROUP BY ALL ORDER BY n DESC, label;

-- name: by_country
-- hosts and STARTTLS per country (needs geo: mxscan --geoip, or records enriched by mxreport)
SELECT coalesce(geo.country, CASE WHEN geo IS NULL THEN '(no geo)' ELSE '(not in database)' END) AS label,
       count(*) AS n, sum(count(*)) OVER () AS denominator, round(100.0 * n / denominator, 1) AS share,
       count(*) FILTER (WHERE smtp.starttls = 'offered') AS starttls_offered
FROM hosts GROUP BY ALL ORDER BY n DESC, label;
