-- Log records from POST /v1/logs (OTLP JSON or JSON lines), one row each,
-- as the loader reads them from <prefix>.logs (docs/logs.md). Attributes
-- are a flat string map, as events' props. There is no record id: a batch
-- the loader writes twice (crash before its offset commit) is stored
-- twice. Partitions are days of log time, so retention can drop whole
-- partitions (not built yet).
CREATE TABLE IF NOT EXISTS logs (
    time            DateTime,
    site_id         LowCardinality(String),
    service         LowCardinality(String),
    severity        LowCardinality(String),
    severity_number UInt8,
    body            String,
    attributes      Nested(key String, value String),
    trace_id        String,
    span_id         String,
    received_at     DateTime
) ENGINE = MergeTree()
PARTITION BY toYYYYMMDD(time)
ORDER BY (site_id, service, time)
SETTINGS index_granularity = 8192
