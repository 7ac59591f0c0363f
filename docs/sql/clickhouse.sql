-- mxscan's headline tables in ClickHouse, straight from the records (NDJSON, gzip or plain).
--
--   clickhouse local --param_records='scan.ndjson.gz' --queries-file docs/sql/clickhouse.sql
--   (shards: --param_records='shard-*.ndjson.gz'; with a server, the files must be under its
--   user_files_path, or use s3()/url() in place of file(); a version that takes no --param_ in
--   local mode: write the quoted path in place of {records:String})
--
-- The same tables, labels and denominators as docs/sql/duckdb.sql and `mxreport json`.
-- Written for ClickHouse 23.x and newer (JSONExtract*, named parameters, SETTINGS in file());
-- NOT run by the tests: Debian 12's clickhouse packages are 18.16 (2018), which predates these
-- functions, and no newer binary is packaged for Debian or npm. Record fields are taken with
-- JSONExtract from each whole line (format JSONAsString), so any mix of record types and scan
-- options reads without a schema; the gzip compression is detected from the .gz extension.

CREATE TEMPORARY TABLE records ENGINE = Memory AS
SELECT
    JSONExtractString(j, 'type')                                    AS type,
    JSONExtractString(j, 'schema')                                  AS schema,
    JSONExtractString(j, 'ip')                                      AS ip,
    JSONExtractUInt(j, 'port')                                      AS port,
    JSONExtractString(j, 'mode')                                    AS mode,
    JSONExtract(j, 'status', 'Nullable(String)')                    AS status,
    JSONHas(j, 'failure')                                           AS has_failure,
    JSONExtract(j, 'failure', 'stage', 'Nullable(String)')          AS failure_stage,
    JSONExtract(j, 'failure', 'reason', 'Nullable(String)')         AS failure_reason,
    JSONHas(j, 'smtp', 'ehlo')                                      AS has_ehlo,
    JSONExtract(j, 'smtp', 'starttls', 'Nullable(String)')          AS starttls,
    JSONExtract(j, 'tls', 'baseline', 'version', 'Nullable(String)') AS baseline_version,
    JSONHas(j, 'tls', 'versions')                                   AS enumerated,
    arrayFilter(v -> JSONExtractBool(j, 'tls', 'versions', v, 'supported'),
                ['SSLv3', 'TLSv1.0', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'])  AS versions_supported,
    JSONExtract(j, 'tls', 'least_grade', 'Nullable(String)')        AS least_grade,
    JSONHas(j, 'tls', 'certificate', 'verify')                      AS has_verify,
    JSONExtract(j, 'tls', 'certificate', 'verify', 'code', 'Nullable(Int32)')  AS verify_code,
    JSONExtract(j, 'tls', 'certificate', 'verify', 'text', 'Nullable(String)') AS verify_text,
    JSONHas(j, 'geo')                                               AS has_geo,
    JSONExtract(j, 'geo', 'country', 'Nullable(String)')            AS geo_country,
    JSONExtract(j, 'geo', 'asn', 'Nullable(UInt32)')                AS geo_asn,
    JSONExtractString(j, 'domain')                                  AS domain,
    JSONExtract(j, 'mx_status', 'Nullable(String)')                 AS mx_status,
    JSONExtract(j, 'verdict', 'tls', 'Nullable(String)')            AS verdict_tls,
    JSONExtract(j, 'verdict', 'starttls_offered', 'Nullable(String)') AS verdict_starttls
FROM file({records:String}, 'JSONAsString', 'j String');

-- name: status
-- hosts by status (of all host records)
SELECT ifNull(status, '(no status)') AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'host' AND schema = '1'
GROUP BY label ORDER BY n DESC, label;

-- name: starttls
-- STARTTLS in the EHLO reply: offered / absent / stripped (of STARTTLS-mode hosts that answered EHLO)
SELECT ifNull(starttls, 'unknown') AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'host' AND schema = '1' AND mode = 'starttls' AND has_ehlo
GROUP BY label ORDER BY n DESC, label;

-- name: starttls_working
-- of the hosts that offered STARTTLS, how many answered a ClientHello with a ServerHello
SELECT if(baseline_version IS NOT NULL, 'tls', 'no tls') AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'host' AND schema = '1' AND mode = 'starttls' AND starttls = 'offered'
GROUP BY label ORDER BY n DESC, label;

-- name: versions_supported
-- TLS versions supported (of hosts whose versions were enumerated; a host counts once per version)
SELECT ver AS label, countIf(has(versions_supported, ver)) AS n, count() AS denominator,
       round(100 * n / denominator, 1) AS share
FROM records ARRAY JOIN ['TLSv1.3', 'TLSv1.2', 'TLSv1.1', 'TLSv1.0', 'SSLv3'] AS ver
WHERE type = 'host' AND schema = '1' AND enumerated
GROUP BY ver ORDER BY ver = 'SSLv3', ver DESC;

-- name: least_grade
-- least grade (nmap's least strength) of the suites a host accepts (of graded hosts)
SELECT assumeNotNull(least_grade) AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'host' AND schema = '1' AND least_grade IS NOT NULL
GROUP BY label ORDER BY label;

-- name: verify
-- certificate verification, OpenSSL verify code and text (of hosts with a certificate chain)
SELECT if(verify_code IS NULL, '(no code)', concat(toString(verify_code), ' ', ifNull(verify_text, ''))) AS label,
       count() AS n, sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'host' AND schema = '1' AND has_verify
GROUP BY label ORDER BY n DESC, label;

-- name: failures
-- failure reasons, "stage: reason" (of all host records; hosts without a failure are not listed)
SELECT label, n, denominator, round(100 * n / denominator, 1) AS share
FROM (SELECT concat(ifNull(failure_stage, '?'), ': ', ifNull(failure_reason, '?')) AS label, count() AS n
      FROM records WHERE type = 'host' AND schema = '1' AND has_failure GROUP BY label)
CROSS JOIN (SELECT count() AS denominator FROM records WHERE type = 'host' AND schema = '1')
ORDER BY n DESC, label;

-- name: domain_tls
-- domains: do their MX hosts speak TLS? all / some / none / unknown (of domain records)
SELECT ifNull(verdict_tls, '(not given)') AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'domain' AND schema = '1'
GROUP BY label ORDER BY n DESC, label;

-- name: domain_starttls
-- domains: do their MX hosts offer STARTTLS? all / some / none / unknown (of domain records)
SELECT ifNull(verdict_starttls, '(not given)') AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share
FROM records WHERE type = 'domain' AND schema = '1'
GROUP BY label ORDER BY n DESC, label;

-- name: by_country
-- hosts and STARTTLS per country (needs geo: mxscan --geoip, or records enriched by mxreport)
SELECT ifNull(geo_country, if(has_geo, '(not in database)', '(no geo)')) AS label, count() AS n,
       sum(n) OVER () AS denominator, round(100 * n / denominator, 1) AS share,
       countIf(ifNull(starttls, '') = 'offered') AS starttls_offered
FROM records WHERE type = 'host' AND schema = '1'
GROUP BY label ORDER BY n DESC, label;
