-- What the collector believes of an event, beside what the client sent.
-- `ts` is the event's time as the collector reckons it (skew-corrected by
-- the batch's sent_at; a browser never sets it by its clock alone), and
-- original_ts the client's ts as sent. user_verified is 1 when user_id is
-- vouched for (a server key sent it, or an identify with a valid
-- user_hash) and 0 when a browser only claimed it: reports that must trust
-- a user id filter on it. Rows loaded before this file read 0 for both.
--
-- ClickHouse 18.16 has no ADD COLUMN IF NOT EXISTS: one column per
-- statement, and the migrate command takes "column already exists" from
-- such a statement as applied, so the file can run again.
ALTER TABLE events ADD COLUMN original_ts UInt64 AFTER ts;
ALTER TABLE events ADD COLUMN user_verified UInt8 AFTER user_id;
