-- Author pages and follows. `paper_authors` indexes every paper by each of
-- its authors' keys (paperhub_domain::author::author_key), written with the
-- paper; the migration's Rust step fills it for the papers already stored.
CREATE TABLE paper_authors (
    author_key TEXT NOT NULL,
    arxiv_id   TEXT NOT NULL,
    PRIMARY KEY (author_key, arxiv_id)
) WITHOUT ROWID;
CREATE INDEX paper_authors_paper ON paper_authors (arxiv_id);

CREATE TABLE author_follows (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author_key TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, author_key)
) WITHOUT ROWID;

-- A digest may include the authors an account follows, once someone who
-- holds both the manage link and the account's session linked them.
ALTER TABLE subscribers ADD COLUMN user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;

-- A submitter may ask for a mail when someone comments on their paper.
ALTER TABLE users ADD COLUMN notify_comments INTEGER NOT NULL DEFAULT 0;
