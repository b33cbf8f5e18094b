-- `footfall replay --rebuild promotions` computes user_promotions and
-- processed_events anew into shadow tables (user_promotions_next,
-- processed_events_next, created by the replay), then swaps them in. Each
-- swap raises generation in its transaction: a promotions view that sees
-- it change reads every row again instead of only the changed ones.
CREATE TABLE enricher_state (
    one        boolean     PRIMARY KEY DEFAULT true CHECK (one),
    generation bigint      NOT NULL DEFAULT 0,
    rebuilt_at timestamptz
);
INSERT INTO enricher_state DEFAULT VALUES;
