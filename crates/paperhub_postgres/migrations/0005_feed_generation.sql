-- Private feed links (the For-you Atom feed) are signed tokens that name
-- the account and this generation; a link of an older generation no longer
-- works. "New feed link" and a password change move it on.
ALTER TABLE users ADD COLUMN feed_generation BIGINT NOT NULL DEFAULT 0;
