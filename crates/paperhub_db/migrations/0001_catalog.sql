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
CREATE INDEX papers_modified_at ON papers (modified_at);

CREATE TABLE paper_categories (
    category TEXT NOT NULL,
    paper_id INTEGER NOT NULL REFERENCES papers (id) ON DELETE CASCADE,
    PRIMARY KEY (category, paper_id)
) WITHOUT ROWID;

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
