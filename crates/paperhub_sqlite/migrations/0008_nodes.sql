-- Several nodes' worth of shared state (PostgreSQL has it from its version 1).

-- One row per elected job (`harvest`, `digest:daily`, ...): who runs which run
-- until when, and which run is done.
CREATE TABLE job_leases (
    job         TEXT PRIMARY KEY,
    run_key     TEXT,
    owner       TEXT,
    lease_until TEXT,
    started_at  TEXT,
    done_key    TEXT,
    done_at     TEXT
);

-- Counters bumped in the transaction of the change they count. `community`:
-- every vote, submission and curation; page caches follow it.
CREATE TABLE counters (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO counters (name, value) VALUES ('community', 0);
