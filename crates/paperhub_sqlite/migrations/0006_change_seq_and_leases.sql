-- Two fixes for several writers on one database (issue #13).
--
-- 1. The search indexes follow papers by `change_seq`, a number handed out
--    in commit order inside each write transaction. The old cursor,
--    (modified_at to the second, row id), skipped a paper changed in the same
--    second as a row with a higher id, or written by a transaction that read
--    the clock before a later one committed.
ALTER TABLE papers ADD COLUMN change_seq INTEGER;

-- Existing rows keep their old change order.
UPDATE papers SET change_seq = ordered.seq
FROM (SELECT id, row_number() OVER (ORDER BY modified_at, id) AS seq FROM papers) AS ordered
WHERE ordered.id = papers.id;

CREATE UNIQUE INDEX papers_change_seq ON papers (change_seq);
DROP INDEX papers_modified_at;

-- The last number handed out. `legacy_seq` is where the backfill above
-- stopped: an index cursor written before this migration translates to a
-- number at or below it.
CREATE TABLE change_counter (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq   INTEGER NOT NULL,
    legacy_seq INTEGER NOT NULL
);
INSERT INTO change_counter (id, last_seq, legacy_seq)
SELECT 1, count(*), count(*) FROM papers;

-- A write that forgets the sequence would be invisible to the indexes
-- forever; refuse it instead.
CREATE TRIGGER papers_insert_needs_change_seq BEFORE INSERT ON papers
WHEN NEW.change_seq IS NULL
BEGIN
    SELECT RAISE(ABORT, 'papers.change_seq must be set on insert');
END;

CREATE TRIGGER papers_update_bumps_change_seq BEFORE UPDATE ON papers
WHEN NEW.change_seq IS NULL OR NEW.change_seq <= OLD.change_seq
BEGIN
    SELECT RAISE(ABORT, 'an update of papers must take a new change_seq');
END;

-- 2. Outbox leases: a sender claims due mails by writing its id and an
--    expiry in one statement, so two senders never hold the same mail, and
--    a crashed sender's mails fall due again when its lease runs out.
ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;
