-- Where each harvest stands, so a crash or restart resumes exactly there.
-- A page's records and the token of the next page are written in one
-- transaction, so every record is stored exactly once across restarts.

CREATE TABLE harvest_state (
    source           TEXT NOT NULL,              -- oai
    set_spec         TEXT NOT NULL,              -- cs, cs:cs:LG, stat, ...
    metadata_prefix  TEXT NOT NULL,              -- arXiv | arXivRaw
    window_from      TEXT,                       -- YYYY-MM-DD of the running window
    window_until     TEXT,
    resumption_token TEXT,                       -- next page of the running window
    pages            INTEGER NOT NULL DEFAULT 0, -- pages stored in the running window
    last_complete    TEXT,                       -- responseDate day of the last complete harvest
    updated_at       TEXT NOT NULL,
    PRIMARY KEY (source, set_spec, metadata_prefix)
);
