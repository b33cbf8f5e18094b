-- Forget requests (issue 15, docs/privacy.md): one row per
-- `footfall forget` run or POST /v1/forget, so an operator and the
-- shop can see that a visitor was forgotten, when, and how many rows each
-- store gave up. The row names no visitor: a record of forgetting someone
-- must not be a way to find out who. The ids themselves are only on the
-- suppressions topic, where the collector, the loader and the enricher
-- need them to drop that visitor's later events.
CREATE TABLE forget_requests (
    id           uuid        PRIMARY KEY,
    site_id      text        NOT NULL,
    source       text        NOT NULL CHECK (source IN ('api', 'cli')),
    status       text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    counts       jsonb       NOT NULL DEFAULT '[]',
    error        text        NOT NULL DEFAULT '',
    requested_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
CREATE INDEX forget_requests_site ON forget_requests (site_id, requested_at);
