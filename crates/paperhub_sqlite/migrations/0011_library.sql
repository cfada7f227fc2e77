-- Personal libraries: collections of saved papers with notes and read
-- marks, and papers marked "not interested".
CREATE TABLE collections (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    slug       TEXT NOT NULL,
    name       TEXT NOT NULL,
    public     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, slug)
);

CREATE TABLE collection_papers (
    collection_id INTEGER NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
    arxiv_id      TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT '',
    read          INTEGER NOT NULL DEFAULT 0,
    added_at      TEXT NOT NULL,
    PRIMARY KEY (collection_id, arxiv_id)
) WITHOUT ROWID;
CREATE INDEX collection_papers_added ON collection_papers (collection_id, added_at);

CREATE TABLE not_interested (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    arxiv_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, arxiv_id)
) WITHOUT ROWID;

-- Matching imported bibliographies against the catalog: by DOI, and by
-- title (paperhub_domain::bib::title_key, written with the paper; the
-- migration's Rust step fills it for the papers already stored).
CREATE INDEX papers_doi ON papers (lower(doi)) WHERE doi IS NOT NULL;
CREATE TABLE paper_titles (
    title_key TEXT NOT NULL,
    arxiv_id  TEXT NOT NULL,
    PRIMARY KEY (title_key, arxiv_id)
) WITHOUT ROWID;
CREATE INDEX paper_titles_paper ON paper_titles (arxiv_id);
