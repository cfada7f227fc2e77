-- Discussions: comments on papers, replies one level deep.
CREATE TABLE comments (
    id         INTEGER PRIMARY KEY,
    arxiv_id   TEXT NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    parent_id  INTEGER REFERENCES comments (id) ON DELETE CASCADE,
    body       TEXT NOT NULL,                  -- markdown source; '' once deleted
    created_at TEXT NOT NULL,
    edited_at  TEXT,
    deleted    INTEGER NOT NULL DEFAULT 0,
    hidden     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX comments_paper ON comments (arxiv_id, id);
CREATE INDEX comments_user ON comments (user_id, created_at);
