-- The community: accounts, sessions, API tokens, submissions and votes.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email         TEXT UNIQUE COLLATE NOCASE,
    password_hash TEXT NOT NULL,                  -- argon2id PHC string
    is_admin      INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);

-- Server-side sessions; the cookie holds a random token, the table its SHA-256.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_user ON sessions (user_id);

-- Personal API tokens; only their SHA-256 is stored.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT
);

-- A paper's life in the hub: who submitted it, curators' flags, vote count.
-- A row exists once a paper was submitted, voted on, featured or hidden.
CREATE TABLE paper_community (
    arxiv_id      TEXT PRIMARY KEY,
    list_date     TEXT,                           -- the daily list it joined, YYYY-MM-DD
    submitted_by  INTEGER REFERENCES users (id) ON DELETE SET NULL,
    submitted_at  TEXT,
    first_seen_at TEXT NOT NULL,                  -- first submission or vote: its trending age
    last_vote_at  TEXT,
    votes         INTEGER NOT NULL DEFAULT 0,     -- = count of its rows in votes
    featured      INTEGER NOT NULL DEFAULT 0,
    hidden        INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE INDEX paper_community_list_date ON paper_community (list_date);
CREATE INDEX paper_community_first_seen ON paper_community (first_seen_at);
CREATE INDEX paper_community_last_vote ON paper_community (last_vote_at);
CREATE INDEX paper_community_featured ON paper_community (arxiv_id) WHERE featured = 1;

CREATE TABLE votes (
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    arxiv_id   TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, arxiv_id)
) WITHOUT ROWID;

CREATE INDEX votes_paper ON votes (arxiv_id);
