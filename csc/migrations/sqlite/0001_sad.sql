-- The CSC API's server-side state (package csc), shared by every replica
-- on the database. Tokens and SADs are kept by their SHA-256 only: the
-- values live with the client alone. No activation data is ever stored.
CREATE TABLE csc_sads (
	sad_hash TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	credential TEXT NOT NULL,
	-- how many signatures the SAD allows, and how many it made
	num_signatures INTEGER NOT NULL,
	used INTEGER NOT NULL DEFAULT 0,
	-- SCAL 2: the hashes still allowed, "ALGO:HEX" comma-separated; ''
	-- when the SAD pins none
	hashes TEXT NOT NULL DEFAULT '',
	-- 1: pins no hashes under SCAL 2, good for signatures/signDoc only
	doc_only INTEGER NOT NULL DEFAULT 0,
	expires_at BIGINT NOT NULL -- Unix milliseconds
);
CREATE INDEX csc_sads_expiry ON csc_sads (expires_at);

CREATE TABLE csc_tokens (
	token_hash TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	expires_at BIGINT NOT NULL -- Unix milliseconds
);
CREATE INDEX csc_tokens_expiry ON csc_tokens (expires_at);
