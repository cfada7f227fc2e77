-- The paper catalog and the record of every import run.
-- SQLite is the source of truth; search indexes are rebuilt from it.

CREATE TABLE papers (
    id               INTEGER PRIMARY KEY,
    arxiv_id         TEXT NOT NULL UNIQUE,      -- canonical id without version
    version          INTEGER,                    -- latest known version
    title            TEXT NOT NULL,
    abstract         TEXT NOT NULL,
    authors          TEXT NOT NULL,              -- JSON array of Author
    primary_category TEXT,
    categories       TEXT NOT NULL,              -- space-separated, primary first
    submitted        TEXT,                       -- RFC 3339, v1
    updated          TEXT,                       -- RFC 3339, latest version
    announced        TEXT,                       -- YYYY-MM-DD, earliest listing
    comments         TEXT,
    journal_ref      TEXT,
    doi              TEXT,
    report_no        TEXT,
    license          TEXT,
    msc_class        TEXT,
    acm_class        TEXT,
    submitter        TEXT,
    versions         TEXT NOT NULL,              -- JSON array of Version
    code_url         TEXT,
    created_at       TEXT NOT NULL,              -- first stored
    modified_at      TEXT NOT NULL               -- last changed by an import
);

CREATE INDEX papers_announced ON papers (announced);

CREATE TABLE import_runs (
    id          INTEGER PRIMARY KEY,
    source      TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,                   -- running | completed | failed
    new         INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0
);
