-- Content moderation (issue 15): product reviews, posted by a shop's
-- server to POST /v1/reviews, wait here as 'pending' until the moderator
-- decides them under the site's moderation rules (docs/moderation.md).

-- One row per review. id is the client's idempotency key (or a UUID the
-- API made): a resend of the same (site_id, id) is the same review.
-- decided_by_rule is the rule that rejected the review ('' for approved or
-- pending), reason a sentence for its author, rule_version the moderation
-- rule-set version that decided it (0 while pending).
CREATE TABLE reviews (
    site_id         text        NOT NULL,
    id              text        NOT NULL,
    product_id      text        NOT NULL,
    author_id       text        NOT NULL,
    rating          smallint    NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title           text        NOT NULL DEFAULT '',
    body            text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    decided_by_rule text        NOT NULL DEFAULT '',
    reason          text        NOT NULL DEFAULT '',
    rule_version    bigint      NOT NULL DEFAULT 0,
    decided_at      timestamptz,
    PRIMARY KEY (site_id, id)
);
-- A product page's approved reviews, newest first.
CREATE INDEX reviews_approved ON reviews (site_id, product_id, created_at DESC) WHERE status = 'approved';
-- An author's reviews: their own list, and the per-author rules (rate,
-- repeated text), which look back from a review's created_at.
CREATE INDEX reviews_author ON reviews (site_id, author_id, created_at);
-- The moderator's sweep of reviews whose Kafka record never came.
CREATE INDEX reviews_pending ON reviews (created_at) WHERE status = 'pending';

-- The moderation rule set, one row per site; the row with site_id '' is the
-- rule set of every site without its own (never delete it). A site's row
-- replaces the default whole, it does not add to it.
--   banned_words        words or phrases; matched as whole words after
--                       normalization (case, accents, leetspeak, repeated
--                       letters, separators); 'word*' also matches words
--                       starting with word
--   max_links           links a review may hold (0: none)
--   min_unique_ratio    a body of at least 8 words with fewer distinct words
--                       than this share of its words is one phrase repeated
--   author_max_reviews  reviews one author may post within
--   author_window_seconds; the one past that is rejected (0: no limit)
--   classifier_url      '' or an HTTP endpoint asked last (docs/moderation.md)
CREATE TABLE moderation_rules (
    site_id               text             PRIMARY KEY,
    version               bigint           NOT NULL DEFAULT 1,
    banned_words          text[]           NOT NULL DEFAULT '{}',
    max_links             integer          NOT NULL DEFAULT 0 CHECK (max_links >= 0),
    min_unique_ratio      double precision NOT NULL DEFAULT 0.3 CHECK (min_unique_ratio BETWEEN 0 AND 1),
    author_max_reviews    integer          NOT NULL DEFAULT 5 CHECK (author_max_reviews >= 0),
    author_window_seconds integer          NOT NULL DEFAULT 3600 CHECK (author_window_seconds > 0),
    classifier_url        text             NOT NULL DEFAULT '' CHECK (classifier_url = '' OR classifier_url ~ '^https?://'),
    updated_at            timestamptz      NOT NULL DEFAULT now()
);
INSERT INTO moderation_rules (site_id) VALUES ('');

-- Every edit of a rule raises the row's version, so a decision records
-- the rules that made it and a replay can tell what is out of date. A
-- site's first row starts past the default's version: its decisions are
-- newer than any the default made.
CREATE FUNCTION moderation_rules_versioned() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.version := GREATEST(NEW.version, COALESCE((SELECT version + 1 FROM moderation_rules WHERE site_id = ''), 1));
    ELSIF NEW.version = OLD.version AND (NEW.banned_words, NEW.max_links, NEW.min_unique_ratio, NEW.author_max_reviews, NEW.author_window_seconds, NEW.classifier_url)
        IS DISTINCT FROM (OLD.banned_words, OLD.max_links, OLD.min_unique_ratio, OLD.author_max_reviews, OLD.author_window_seconds, OLD.classifier_url) THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER moderation_rules_version BEFORE INSERT OR UPDATE ON moderation_rules
    FOR EACH ROW EXECUTE FUNCTION moderation_rules_versioned();

-- What `footfall replay --rebuild moderation` changed: one row per review
-- whose decision (status or rule) a replay under newer rules changed.
CREATE TABLE moderation_changes (
    change_id   bigserial   PRIMARY KEY,
    site_id     text        NOT NULL,
    review_id   text        NOT NULL,
    old_status  text        NOT NULL,
    old_rule    text        NOT NULL,
    old_version bigint      NOT NULL,
    new_status  text        NOT NULL,
    new_rule    text        NOT NULL,
    new_version bigint      NOT NULL,
    replayed_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (site_id, review_id) REFERENCES reviews (site_id, id) ON DELETE CASCADE
);
CREATE INDEX moderation_changes_review ON moderation_changes (site_id, review_id);
