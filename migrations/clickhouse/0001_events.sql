-- Every event, one wide row each. ReplacingMergeTree on the sorting key
-- (which ends in the event id) folds duplicates from retries and replays;
-- read with FINAL, or count uniqExact(id), for exact figures before merges.
-- Partitions are days of event time, so retention drops whole partitions.
CREATE TABLE IF NOT EXISTS events (
    id              String,
    type            LowCardinality(String),
    name            String,
    site_id         LowCardinality(String),
    time            DateTime,
    ts              UInt64,
    received_at     DateTime,
    anonymous_id    String,
    user_id         String,
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
) ENGINE = ReplacingMergeTree(received_at)
PARTITION BY toYYYYMMDD(time)
ORDER BY (site_id, type, time, id)
SETTINGS index_granularity = 8192
