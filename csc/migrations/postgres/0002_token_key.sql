-- An auth/login token holds until its client's API key is rotated: the
-- key's rotation time it was issued under ('' for tokens issued before
-- this column, which are thereby refused).
ALTER TABLE csc_tokens ADD COLUMN key_rotated_at TEXT NOT NULL DEFAULT '';
