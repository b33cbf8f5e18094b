-- The promotions catalog: what a shop can show, and the words that make it relevant.
CREATE TABLE promotions (
    site_id     text        NOT NULL,
    id          text        NOT NULL,
    title       text        NOT NULL,
    url         text        NOT NULL,
    image       text        NOT NULL DEFAULT '',
    keywords    text[]      NOT NULL DEFAULT '{}',
    categories  text[]      NOT NULL DEFAULT '{}',
    priority    integer     NOT NULL DEFAULT 0,
    is_default  boolean     NOT NULL DEFAULT false,
    starts_at   timestamptz,
    ends_at     timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, id)
);

-- Per-visitor relevance, kept current by the enricher and read by the homepage.
CREATE TABLE user_promotions (
    site_id       text             NOT NULL,
    user_key      text             NOT NULL,
    promotion_id  text             NOT NULL,
    score         double precision NOT NULL,
    reason        text             NOT NULL,
    last_event_at timestamptz      NOT NULL,
    expires_at    timestamptz      NOT NULL,
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, user_key, promotion_id),
    FOREIGN KEY (site_id, promotion_id) REFERENCES promotions (site_id, id) ON DELETE CASCADE
);
CREATE INDEX user_promotions_top ON user_promotions (site_id, user_key, score DESC);

-- Anonymous ids linked to the shop's user ids by identify events.
CREATE TABLE identities (
    site_id      text        NOT NULL,
    anonymous_id text        NOT NULL,
    user_id      text        NOT NULL,
    linked_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, anonymous_id, user_id)
);
CREATE INDEX identities_by_user ON identities (site_id, user_id);

-- The enricher's Kafka offsets, written in the same transaction as the rows
-- they produced: the next offset to read per partition.
CREATE TABLE consumer_offsets (
    group_id    text        NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    next_offset bigint      NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Event ids already scored, so a client's resend or a replay never counts twice.
CREATE TABLE processed_events (
    site_id      text        NOT NULL,
    event_id     uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, event_id)
);
CREATE INDEX processed_events_age ON processed_events (processed_at);
