-- Email digests: subscribers, their interests, and the durable outbox.

CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE COLLATE NOCASE,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | active | unsubscribed | disabled
    frequency       TEXT NOT NULL DEFAULT 'daily',    -- daily | weekly
    top_n           INTEGER NOT NULL DEFAULT 10,      -- trending papers per digest; 0 = none
    hard_failures   INTEGER NOT NULL DEFAULT 0,       -- permanent delivery failures in a row
    created_at      TEXT NOT NULL,
    confirmed_at    TEXT,
    unsubscribed_at TEXT
);

CREATE INDEX subscribers_active ON subscribers (frequency) WHERE status = 'active';

-- Saved searches, categories and followed authors.
CREATE TABLE subscriber_interests (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,                     -- query | category | author
    value         TEXT NOT NULL,
    PRIMARY KEY (subscriber_id, kind, value)
) WITHOUT ROWID;

-- Every mail, rendered, before it is sent. `dedupe_key` makes enqueueing
-- idempotent: one digest per subscriber and period, however often it runs.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    dedupe_key      TEXT NOT NULL UNIQUE,
    subscriber_id   INTEGER REFERENCES subscribers (id) ON DELETE SET NULL,
    kind            TEXT NOT NULL,                   -- confirm | manage | digest
    message_id      TEXT NOT NULL,                   -- our Message-ID, without <>
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    message         BLOB NOT NULL,                   -- the whole RFC 5322 message
    status          TEXT NOT NULL DEFAULT 'queued',  -- queued | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    created_at      TEXT NOT NULL,
    sent_at         TEXT
);

CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'queued';
