-- Alerts on log records (issue 15, docs/alerts.md): rules as data, the
-- count of each rule's tumbling windows, and an outbox of webhook
-- notifications. The alerts worker writes counts, notifications and its
-- Kafka offsets (consumer_offsets, group footfall-alerts) in one
-- transaction, so a crash or a redelivery neither loses nor double-counts a
-- record, and never writes a notification twice.

-- severity_number is OpenTelemetry's number for a severity name (TRACE 1,
-- DEBUG 5, INFO 9, WARN 13, ERROR 17, FATAL 21; WARNING and CRITICAL are
-- accepted too), or NULL for another name: an operator writes
-- min_severity => severity_number('error') instead of 17.
CREATE FUNCTION severity_number(name text) RETURNS smallint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE upper(trim(name))
        WHEN 'TRACE' THEN 1 WHEN 'DEBUG' THEN 5 WHEN 'INFO' THEN 9
        WHEN 'WARN' THEN 13 WHEN 'WARNING' THEN 13
        WHEN 'ERROR' THEN 17 WHEN 'FATAL' THEN 21 WHEN 'CRITICAL' THEN 21
    END::smallint
$$;

-- One rule: when at least threshold log records of site_id (of service,
-- or of any service when it is ''), at min_severity or above, whose body
-- contains body_match (any case; '' matches every body), fall within one
-- window of window_seconds, POST to webhook_url. The worker rereads the
-- enabled rules every --alerts-rules-refresh.
CREATE TABLE alert_rules (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id        text        NOT NULL CHECK (site_id <> ''),
    name           text        NOT NULL CHECK (name <> ''),
    service        text        NOT NULL DEFAULT '',
    min_severity   smallint    NOT NULL DEFAULT 17 CHECK (min_severity BETWEEN 1 AND 24),
    body_match     text        NOT NULL DEFAULT '',
    threshold      integer     NOT NULL CHECK (threshold >= 1),
    window_seconds integer     NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    webhook_url    text        NOT NULL CHECK (webhook_url ~* '^https?://[^/]'),
    enabled        boolean     NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (site_id, name)
);

-- The matching records counted per rule and window. A window is
-- [window_start, window_end) on the records' own time, aligned to the
-- Unix epoch; a rule whose window_seconds changes starts new windows.
-- fired_at: when the count reached the threshold and the firing
-- notification was written. episode_start: the start of the first window
-- of the run of consecutive firing windows this one belongs to.
-- episode_open: this window fired and is the latest of its run, not yet
-- resolved; the resolver looks only at these.
CREATE TABLE alert_windows (
    rule_id        bigint      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    window_start   timestamptz NOT NULL,
    window_end     timestamptz NOT NULL,
    count          bigint      NOT NULL,
    sample_service text        NOT NULL DEFAULT '',
    sample_body    text        NOT NULL DEFAULT '',
    fired_at       timestamptz,
    episode_start  timestamptz,
    episode_open   boolean     NOT NULL DEFAULT false,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rule_id, window_start, window_end)
);
CREATE INDEX alert_windows_open ON alert_windows (window_end) WHERE episode_open;
CREATE INDEX alert_windows_age ON alert_windows (window_end);

-- The outbox: one row per notification, never two per (rule, window,
-- status). payload is the exact JSON body POSTed (Alertmanager's webhook
-- format); the URL is the rule's at delivery time, so fixing a rule's
-- webhook_url also redirects its pending notifications. The deliverer
-- takes due rows with FOR UPDATE SKIP LOCKED, retries with exponential
-- backoff (attempts, next_attempt_at) and gives up after
-- --alerts-delivery-max-age.
CREATE TABLE alert_notifications (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule_id         bigint      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    window_start    timestamptz NOT NULL,
    window_end      timestamptz NOT NULL,
    status          text        NOT NULL CHECK (status IN ('firing', 'resolved')),
    count           bigint      NOT NULL,
    idempotency_key text        NOT NULL,
    payload         json        NOT NULL,
    created_at      timestamptz NOT NULL,
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text        NOT NULL DEFAULT '',
    delivered_at    timestamptz,
    gave_up_at      timestamptz,
    UNIQUE (rule_id, window_start, window_end, status)
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at)
    WHERE delivered_at IS NULL AND gave_up_at IS NULL;
CREATE INDEX alert_notifications_age ON alert_notifications (created_at);
