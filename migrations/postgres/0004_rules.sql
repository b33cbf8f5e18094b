-- Rules as data (issue 14): what a search, a click or a product view is
-- worth, how fast interest fades, which words mean the same to a shop and
-- which product pages belong to which category. Every change of a site's
-- rules raises its rule set's version; the enricher stamps each score it
-- writes with the version that computed it, so a change shows in the data
-- and `footfall replay --rebuild promotions` can recompute history under
-- the new rules.

-- One row per site; the row with site_id '' is the rule set of every site
-- without its own (never delete it). Weights are points per event; a
-- score halves every half_life_seconds (decayed from its last_event_at,
-- on write by the enricher and on read by the promotions API); max_score
-- caps one (visitor, promotion) score.
CREATE TABLE rule_sets (
    site_id           text             PRIMARY KEY,
    version           bigint           NOT NULL DEFAULT 1,
    search_weight     double precision NOT NULL DEFAULT 10 CHECK (search_weight >= 0),
    click_weight      double precision NOT NULL DEFAULT 5 CHECK (click_weight >= 0),
    view_weight       double precision NOT NULL DEFAULT 2 CHECK (view_weight >= 0),
    half_life_seconds double precision NOT NULL DEFAULT 604800 CHECK (half_life_seconds > 0),
    max_score         double precision NOT NULL DEFAULT 100 CHECK (max_score > 0),
    updated_at        timestamptz      NOT NULL DEFAULT now()
);
INSERT INTO rule_sets (site_id) VALUES ('');

-- A search containing one of synonyms counts as a search for term
-- ("air moisturiser" -> humidifier). Matched as words, stemmed.
CREATE TABLE synonyms (
    site_id  text   NOT NULL,
    term     text   NOT NULL,
    synonyms text[] NOT NULL,
    PRIMARY KEY (site_id, term)
);

-- Product pages and their categories: a page view of, or a click to, a
-- page scores the promotions of its categories. page is a path
-- ("/p/humidifiers" covers it and everything under it) or a path with a
-- query ("/product.html?id=tower-fan": those parameters must be there).
CREATE TABLE product_categories (
    site_id    text   NOT NULL,
    page       text   NOT NULL,
    categories text[] NOT NULL,
    PRIMARY KEY (site_id, page)
);

-- A row's score is its value as of last_event_at; it halves every
-- half_life_seconds after that (the rule set's when the row was last
-- written). rule_version is the rule-set version that computed that write.
ALTER TABLE user_promotions
    ADD COLUMN half_life_seconds double precision NOT NULL DEFAULT 604800 CHECK (half_life_seconds > 0),
    ADD COLUMN rule_version bigint NOT NULL DEFAULT 0;

-- decayed is score, worth that much at from_t, as it is worth at to_t:
-- never more (a to_t before from_t keeps it). The enricher's upsert and
-- the promotions API's ranking both use it; enricher.Decayed is its Go
-- twin, which the promotions view uses.
CREATE FUNCTION decayed(score double precision, from_t timestamptz, to_t timestamptz, half_life double precision)
RETURNS double precision LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT score * power(0.5::double precision, GREATEST(0, extract(epoch FROM to_t - from_t))::double precision / half_life)
$$;

-- bump_rule_set raises site's version, giving the site a row of its own
-- (the default's settings) on its first change.
CREATE FUNCTION bump_rule_set(site text) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rule_sets (site_id, version, search_weight, click_weight, view_weight, half_life_seconds, max_score)
    SELECT site, d.version + 1, d.search_weight, d.click_weight, d.view_weight, d.half_life_seconds, d.max_score
    FROM rule_sets d WHERE d.site_id = ''
    ON CONFLICT (site_id) DO UPDATE SET version = rule_sets.version + 1, updated_at = now();
$$;

CREATE FUNCTION rules_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM bump_rule_set(OLD.site_id);
    ELSE
        PERFORM bump_rule_set(NEW.site_id);
        IF TG_OP = 'UPDATE' AND OLD.site_id <> NEW.site_id THEN
            PERFORM bump_rule_set(OLD.site_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER synonyms_version AFTER INSERT OR UPDATE OR DELETE ON synonyms
    FOR EACH ROW EXECUTE FUNCTION rules_changed();
CREATE TRIGGER product_categories_version AFTER INSERT OR UPDATE OR DELETE ON product_categories
    FOR EACH ROW EXECUTE FUNCTION rules_changed();

-- An edit of a weight, the half-life or the cap raises the version too.
CREATE FUNCTION rule_set_edited() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.version = OLD.version AND (NEW.search_weight, NEW.click_weight, NEW.view_weight, NEW.half_life_seconds, NEW.max_score)
        IS DISTINCT FROM (OLD.search_weight, OLD.click_weight, OLD.view_weight, OLD.half_life_seconds, OLD.max_score) THEN
        NEW.version := OLD.version + 1;
        NEW.updated_at := now();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER rule_sets_version BEFORE UPDATE ON rule_sets
    FOR EACH ROW EXECUTE FUNCTION rule_set_edited();

-- Rows past their expiry are deleted by the enricher's periodic prune,
-- which scans the table: an index on expires_at, even a BRIN one, would
-- end the HOT updates 0003 bought on PostgreSQL 15 (a raise moves
-- expires_at).
