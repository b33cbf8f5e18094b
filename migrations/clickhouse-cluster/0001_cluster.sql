-- Footfall's ClickHouse schema on a cluster: `footfall migrate
-- --clickhouse-cluster NAME` applies this directory instead of
-- migrations/clickhouse (docs/scale-out.md). The tables are the
-- single-node schema as migrations/clickhouse/0001-0006 leave it, each as
-- a replicated table NAME_local on every node (its shard's replicas
-- coordinated through ZooKeeper or ClickHouse Keeper) under a Distributed
-- table NAME over the whole cluster, which is what Footfall reads and
-- writes. Events and visits are sharded by visitor (the rollups' own
-- visitor expression), so a visitor's events and visits live on one shard
-- and a visit is folded where its events are. The materialized views fill
-- each shard's rollups from that shard's inserts, and reading a rollup
-- through its Distributed table merges the shards' aggregate states.
--
-- ${cluster} and ${database} are replaced by footfall migrate; {shard} and
-- {replica} are each server's macros. A later single-node file that
-- changes a table needs its cluster twin here (ALTER TABLE ..._local ON
-- CLUSTER, and the same on the Distributed table); the cluster test checks
-- that the Distributed tables have the single-node tables' columns.

CREATE TABLE IF NOT EXISTS ${database}.events_local ON CLUSTER ${cluster} (
    id              String,
    type            LowCardinality(String),
    name            String,
    site_id         LowCardinality(String),
    time            DateTime,
    ts              UInt64,
    original_ts     UInt64,
    received_at     DateTime,
    anonymous_id    String,
    user_id         String,
    user_verified   UInt8,
    session_id      String,
    page_url        String,
    page_path       String,
    page_title      String,
    page_referrer   String,
    search_keyword  String,
    search_results  Int32,
    click_selector  String,
    click_text      String,
    click_href      String,
    click_tag       String,
    scroll_depth    UInt8,
    form_id         String,
    form_action     String,
    props           Nested(key String, value String),
    locale          String,
    tz              String,
    screen          String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_term        String,
    utm_content     String,
    ip              String,
    user_agent      String,
    bot             UInt8,
    browser         LowCardinality(String),
    os              LowCardinality(String),
    device          LowCardinality(String)
) ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/${database}/events_local', '{replica}', received_at)
PARTITION BY toYYYYMMDD(time)
ORDER BY (site_id, type, time, id)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS ${database}.events ON CLUSTER ${cluster} AS ${database}.events_local
ENGINE = Distributed(${cluster}, ${database}, events_local, sipHash64(if(anonymous_id != '', anonymous_id, user_id)));

CREATE TABLE IF NOT EXISTS ${database}.sessions_local ON CLUSTER ${cluster} (
    site_id         String,
    session_id      String,
    sign            Int8,
    visitor         String,
    start           DateTime,
    finish          DateTime,
    duration        UInt32,
    pageviews       UInt32,
    events          UInt32,
    interactions    UInt32,
    is_bounce       UInt8,
    entry_page      String,
    exit_page       String,
    referrer        String,
    source          String,
    channel         String,
    utm_source      String,
    utm_medium      String,
    utm_campaign    String,
    utm_term        String,
    utm_content     String,
    browser         String,
    os              String,
    device          String,
    first_ts        UInt64 DEFAULT 0,
    first_id        String DEFAULT '',
    entry_ts        UInt64 DEFAULT 0,
    entry_id        String DEFAULT '',
    exit_ts         UInt64 DEFAULT 0,
    exit_id         String DEFAULT ''
) ENGINE = ReplicatedCollapsingMergeTree('/clickhouse/tables/{shard}/${database}/sessions_local', '{replica}', sign)
PARTITION BY toYYYYMM(start)
ORDER BY (site_id, toDate(start), session_id);

CREATE TABLE IF NOT EXISTS ${database}.sessions ON CLUSTER ${cluster} AS ${database}.sessions_local
ENGINE = Distributed(${cluster}, ${database}, sessions_local, sipHash64(visitor));

CREATE TABLE IF NOT EXISTS ${database}.events_hourly_local ON CLUSTER ${cluster} (
    site_id         String,
    hour            DateTime,
    dimension       String,
    value           String,
    lvl             UInt8,
    events          AggregateFunction(count),
    pageviews       AggregateFunction(sum, UInt64),
    zero_results    AggregateFunction(sum, UInt64),
    visitors        AggregateFunction(uniq, String)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/${database}/events_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, value, lvl, hour)
SETTINGS index_granularity = 64;

CREATE TABLE IF NOT EXISTS ${database}.events_hourly ON CLUSTER ${cluster} AS ${database}.events_hourly_local
ENGINE = Distributed(${cluster}, ${database}, events_hourly_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.events_hourly_mv ON CLUSTER ${cluster} TO ${database}.events_hourly_local AS
SELECT
    CAST(site_id AS String) AS site_id,
    toStartOfHour(time) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    toUInt8(multiIf((sipHash64(if(anonymous_id != '', anonymous_id, user_id)) AS h) % 128 = 0, 7,
        h % 64 = 0, 6, h % 32 = 0, 5, h % 16 = 0, 4, h % 8 = 0, 3, h % 4 = 0, 2, h % 2 = 0, 1, 0)) AS lvl,
    countState() AS events,
    sumState(toUInt64(type = 'pageview')) AS pageviews,
    sumState(toUInt64(type = 'search' AND search_results = 0)) AS zero_results,
    uniqState(if(anonymous_id != '', anonymous_id, user_id)) AS visitors
FROM ${database}.events_local
ARRAY JOIN [
    ('', ''),
    ('page', if(type = 'pageview', page_path, '')),
    ('name', multiIf(type = 'custom', name, type = 'pageview', 'pageview', '')),
    ('search', if(type = 'search', lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', '')), '')),
    ('click', if(type = 'click', if(click_href != '', click_href, click_text), ''))
] AS d
WHERE bot = 0 AND (d.1 = '' OR d.2 != '')
GROUP BY site_id, hour, dimension, value, lvl;

CREATE TABLE IF NOT EXISTS ${database}.sessions_hourly_local ON CLUSTER ${cluster} (
    site_id         String,
    hour            DateTime,
    dimension       String,
    value           String,
    lvl             UInt8,
    visits          AggregateFunction(sum, Int64),
    bounces         AggregateFunction(sum, Int64),
    duration        AggregateFunction(sum, Int64),
    pageviews       AggregateFunction(sum, Int64),
    visitors        AggregateFunction(uniqIf, String, UInt8)
) ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/${database}/sessions_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, value, lvl, hour)
SETTINGS index_granularity = 64;

CREATE TABLE IF NOT EXISTS ${database}.sessions_hourly ON CLUSTER ${cluster} AS ${database}.sessions_hourly_local
ENGINE = Distributed(${cluster}, ${database}, sessions_hourly_local, rand());

CREATE MATERIALIZED VIEW IF NOT EXISTS ${database}.sessions_hourly_mv ON CLUSTER ${cluster} TO ${database}.sessions_hourly_local AS
SELECT
    site_id,
    toStartOfHour(start) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    toUInt8(multiIf((sipHash64(visitor) AS h) % 128 = 0, 7,
        h % 64 = 0, 6, h % 32 = 0, 5, h % 16 = 0, 4, h % 8 = 0, 3, h % 4 = 0, 2, h % 2 = 0, 1, 0)) AS lvl,
    sumState(toInt64(sign)) AS visits,
    sumState(toInt64(sign) * is_bounce) AS bounces,
    sumState(toInt64(sign) * duration) AS duration,
    sumState(toInt64(sign) * pageviews) AS pageviews,
    uniqIfState(visitor, sign > 0) AS visitors
FROM ${database}.sessions_local
ARRAY JOIN [
    ('', ''),
    ('entry_page', entry_page),
    ('exit_page', exit_page),
    ('source', source),
    ('channel', channel),
    ('referrer', referrer),
    ('utm_source', utm_source),
    ('utm_medium', utm_medium),
    ('utm_campaign', utm_campaign),
    ('utm_term', utm_term),
    ('utm_content', utm_content),
    ('browser', browser),
    ('os', os),
    ('device', device)
] AS d
GROUP BY site_id, hour, dimension, value, lvl;

CREATE TABLE IF NOT EXISTS ${database}.logs_local ON CLUSTER ${cluster} (
    time            DateTime,
    id              String DEFAULT '',
    site_id         LowCardinality(String),
    service         LowCardinality(String),
    severity        LowCardinality(String),
    severity_number UInt8,
    body            String,
    attributes      Nested(key String, value String),
    trace_id        String,
    span_id         String,
    received_at     DateTime
) ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/${database}/logs_local', '{replica}')
PARTITION BY toYYYYMMDD(time)
ORDER BY (site_id, service, time)
SETTINGS index_granularity = 8192;

CREATE TABLE IF NOT EXISTS ${database}.logs ON CLUSTER ${cluster} AS ${database}.logs_local
ENGINE = Distributed(${cluster}, ${database}, logs_local, sipHash64(site_id, service));
