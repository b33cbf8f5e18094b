-- User ids the enricher holds state for: links and scores come only from
-- user ids the collector vouched for (a server key sent them, or an
-- identify with a valid user_hash). For a site with an identity secret the
-- promotions API answers about one of them only with its user_hash; an
-- anonymous id needs none. The enricher writes a row in the transaction of
-- the first links or scores about its user, and never deletes one, so a
-- lookup that found no row read nothing about that user.
CREATE TABLE known_users (
    site_id       text        NOT NULL,
    user_id       text        NOT NULL,
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, user_id)
);

-- Links made before user ids were vouched for cannot be told apart from
-- verified ones; their user ids are protected all the same.
INSERT INTO known_users (site_id, user_id)
SELECT DISTINCT site_id, user_id FROM identities;
