-- Reporting: visits (sessions) and hourly rollups for the dashboard.
--
-- Exactness: the loader inserts an event id into `events` only if it is not
-- there yet (it asks before each insert), so the materialized views below
-- see every event once, whatever resends, redeliveries and replays bring.
-- `sessions` is kept by the loader too: after each batch it recomputes the
-- batch's visits from `events` and, where a visit changed, writes the old
-- row with sign -1 and the new one with sign +1. Recomputing from `events`
-- makes a retried batch write the same rows again, so nothing counts twice.
-- Bots are left out of all of it. Unique visitors are ClickHouse's uniq
-- states, as Plausible counts them: exact up to 65,536 visitors in a
-- figure, within about 1 % above; exact unique states over a month of a
-- busy shop cost the dashboard seconds a query. The new tables hold plain Strings, and
-- the view over events CASTs site_id to one: ClickHouse 18.16 pushes
-- neither a String into a LowCardinality column nor the reverse (and its
-- functions keep a LowCardinality argument's type).

-- One row per visit (after collapsing): the beacon's session_id.
CREATE TABLE IF NOT EXISTS sessions (
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
    device          String
) ENGINE = CollapsingMergeTree(sign)
PARTITION BY toYYYYMM(start)
ORDER BY (site_id, toDate(start), session_id);

-- Event figures per site, hour and dimension value. dimension '' is the
-- site's total; 'page' pageviews by path; 'name' custom events by name;
-- 'search' searches by keyword; 'click' clicks by target.
CREATE TABLE IF NOT EXISTS events_hourly (
    site_id         String,
    hour            DateTime,
    dimension       String,
    value           String,
    events          AggregateFunction(count),
    pageviews       AggregateFunction(sum, UInt64),
    zero_results    AggregateFunction(sum, UInt64),
    visitors        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, hour, value);

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
SELECT
    CAST(site_id AS String) AS site_id,
    toStartOfHour(time) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    countState() AS events,
    sumState(toUInt64(type = 'pageview')) AS pageviews,
    sumState(toUInt64(type = 'search' AND search_results = 0)) AS zero_results,
    uniqState(if(anonymous_id != '', anonymous_id, user_id)) AS visitors
FROM events
ARRAY JOIN [
    ('', ''),
    ('page', if(type = 'pageview', page_path, '')),
    ('name', if(type = 'custom', name, '')),
    ('search', if(type = 'search', lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', '')), '')),
    ('click', if(type = 'click', if(click_href != '', click_href, click_text), ''))
] AS d
WHERE bot = 0 AND (d.1 = '' OR d.2 != '')
GROUP BY site_id, hour, dimension, value;

-- Visit figures per site, hour of the visit's start and dimension value;
-- fed by both rows of each change to `sessions`, so sums net out.
CREATE TABLE IF NOT EXISTS sessions_hourly (
    site_id         String,
    hour            DateTime,
    dimension       String,
    value           String,
    visits          AggregateFunction(sum, Int64),
    bounces         AggregateFunction(sum, Int64),
    duration        AggregateFunction(sum, Int64),
    pageviews       AggregateFunction(sum, Int64),
    visitors        AggregateFunction(uniqIf, String, UInt8)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, hour, value);

CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_hourly_mv TO sessions_hourly AS
SELECT
    site_id,
    toStartOfHour(start) AS hour,
    d.1 AS dimension,
    d.2 AS value,
    sumState(toInt64(sign)) AS visits,
    sumState(toInt64(sign) * is_bounce) AS bounces,
    sumState(toInt64(sign) * duration) AS duration,
    sumState(toInt64(sign) * pageviews) AS pageviews,
    uniqIfState(visitor, sign > 0) AS visitors
FROM sessions
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
GROUP BY site_id, hour, dimension, value;
