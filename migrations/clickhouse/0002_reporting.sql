-- Reporting: visits (sessions) and hourly rollups for the dashboard.
--
-- Exactness: the loader inserts an event id into `events` only if it is not
-- there yet (it asks before each insert), so the materialized views below
-- see every event once, whatever resends, redeliveries and replays bring.
-- `sessions` is kept by the loader too: for each batch it computes the
-- batch's visits as `events` will hold them (the stored row folded with the
-- batch's new events by the order keys 0004 adds; what `events` held
-- before the insert, read back, for a visit with an event already stored)
-- and, once the events are in, where a visit changed, writes the old row
-- with sign -1 and the new one with sign +1. A function of `events`, so a
-- retried batch writes the same rows again and nothing counts twice.
-- Bots are left out of all of it. Unique visitors are ClickHouse's uniq
-- states, as Plausible counts them: exact up to 65,536 visitors in a
-- figure, within about 1 % above; exact unique states over a month of a
-- busy shop cost the dashboard seconds a query.
--
-- Sampling levels: every rollup row also carries lvl, the trailing zero
-- bits of sipHash64(visitor), at most 7, so the rows of lvl >= k hold a
-- fixed half, quarter, ... 1/128 of the visitors (sipHash64 is not the hash
-- uniq keeps, so the two samplings stay independent). Merging visitor
-- states costs by the visitors they hold, about 50 ns each on two cores:
-- a month of a busy shop is a million visitor-hours, 60 to 200 ms a
-- figure. Where a figure is large (its lvl >= 7 rows estimate it above
-- 20,480) the dashboard merges only the rows of the level that still holds
-- at least 8,192 visitors and scales up (a standard error of 1.1 % at
-- most); smaller figures merge every level and stay exact. Sums are the same whatever the level:
-- each event and visit is in one level's row. value precedes lvl and hour
-- in the sort key so that the visitors of a few values, at a few levels,
-- are read alone; granules of 64 rows keep such a read from spilling into
-- the neighbouring rows of level 0, which hold half of a value's visitors
-- (with 8,192 rows a granule, the month's 696 rows of a site's total cost
-- 20 ms of their neighbours' states; with 256, an estimate still read
-- three times the rows it needs).
--
-- The new tables hold plain Strings, and
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
-- site's total; 'page' pageviews by path; 'name' custom events by name
-- and pageviews under the name 'pageview', as the Stats API's event:name
-- lists them (one row an hour for them, rather than merging every page's);
-- 'search' searches by keyword; 'click' clicks by target.
CREATE TABLE IF NOT EXISTS events_hourly (
    site_id         String,
    hour            DateTime,
    dimension       String,
    value           String,
    lvl             UInt8,
    events          AggregateFunction(count),
    pageviews       AggregateFunction(sum, UInt64),
    zero_results    AggregateFunction(sum, UInt64),
    visitors        AggregateFunction(uniq, String)
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, value, lvl, hour)
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS events_hourly_mv TO events_hourly AS
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
FROM events
ARRAY JOIN [
    ('', ''),
    ('page', if(type = 'pageview', page_path, '')),
    ('name', multiIf(type = 'custom', name, type = 'pageview', 'pageview', '')),
    ('search', if(type = 'search', lower(replaceRegexpAll(search_keyword, '^\\s+|\\s+$', '')), '')),
    ('click', if(type = 'click', if(click_href != '', click_href, click_text), ''))
] AS d
WHERE bot = 0 AND (d.1 = '' OR d.2 != '')
GROUP BY site_id, hour, dimension, value, lvl;

-- Visit figures per site, hour of the visit's start and dimension value;
-- fed by both rows of each change to `sessions`, so sums net out.
CREATE TABLE IF NOT EXISTS sessions_hourly (
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
) ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (site_id, dimension, value, lvl, hour)
SETTINGS index_granularity = 64;

CREATE MATERIALIZED VIEW IF NOT EXISTS sessions_hourly_mv TO sessions_hourly AS
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
GROUP BY site_id, hour, dimension, value, lvl;
