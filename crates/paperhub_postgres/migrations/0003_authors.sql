-- Author pages and follows (SQLite 0010). The migration's Rust step fills
-- paper_authors for the papers already stored.
CREATE TABLE paper_authors (
    author_key text COLLATE "C" NOT NULL,
    arxiv_id   text COLLATE "C" NOT NULL,
    PRIMARY KEY (author_key, arxiv_id)
);
CREATE INDEX paper_authors_paper ON paper_authors (arxiv_id);

CREATE TABLE author_follows (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    author_key text COLLATE "C" NOT NULL,
    name       text NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, author_key)
);

-- A digest may include the authors an account follows (SQLite 0010).
ALTER TABLE subscribers ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE SET NULL;

-- A submitter may ask for a mail when someone comments on their paper.
ALTER TABLE users ADD COLUMN notify_comments boolean NOT NULL DEFAULT false;
