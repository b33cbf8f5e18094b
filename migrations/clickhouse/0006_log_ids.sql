-- Log records get an id (the collector's, or the sender's "id" in JSON
-- lines), so the loader can skip a record the table already holds: a batch
-- delivered again after a crash between its insert and its offset commit
-- is stored once. Rows from before this file have id ''; they are never
-- looked up. One column per statement, so that the file can run again
-- (see 0003).
ALTER TABLE logs ADD COLUMN id String DEFAULT '' AFTER time;
