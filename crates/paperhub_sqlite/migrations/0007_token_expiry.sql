-- Personal API tokens can expire (#13). NULL: the token never expires.
ALTER TABLE api_tokens ADD COLUMN expires_at TEXT;
