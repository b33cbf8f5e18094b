-- The order keys of a visit's row: the client time (ts) and id of its
-- first event and of its first and last pageview, which decide its
-- visitor, referrer, source, channel, UTM tags, browser, entry page and
-- exit page. With them the loader folds a batch's new events into the
-- stored row instead of reading back the visit's events (a day of the
-- site's events a batch). entry_id and exit_id are '' while the visit has
-- no pageview; first_id '' marks a row written before this file, whose
-- order is unknown: the loader reads such a visit's events once and
-- writes the row again with its keys. The views over sessions name their
-- columns, so they read on as before.
--
-- One column per statement, so that the file can run again (see 0003).
ALTER TABLE sessions ADD COLUMN first_ts UInt64 DEFAULT 0;
ALTER TABLE sessions ADD COLUMN first_id String DEFAULT '';
ALTER TABLE sessions ADD COLUMN entry_ts UInt64 DEFAULT 0;
ALTER TABLE sessions ADD COLUMN entry_id String DEFAULT '';
ALTER TABLE sessions ADD COLUMN exit_ts UInt64 DEFAULT 0;
ALTER TABLE sessions ADD COLUMN exit_id String DEFAULT '';
