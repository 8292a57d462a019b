-- API clients, signer credentials and which client may use which.
-- Times are UTC text (2006-01-02T15:04:05.000000Z); "" means none.
CREATE TABLE clients (
	name TEXT PRIMARY KEY,
	key_hash TEXT NOT NULL UNIQUE,          -- hex SHA-256 of the API key
	disabled INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	key_rotated_at TEXT NOT NULL
);

CREATE TABLE credentials (
	name TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	position TEXT NOT NULL DEFAULT '',
	key_label TEXT NOT NULL,
	chain_pem TEXT NOT NULL DEFAULT '',     -- "" means: the certificate on the token beside the key
	activation TEXT NOT NULL CHECK (activation IN ('none', 'pin', 'totp')),
	pin_hash TEXT NOT NULL DEFAULT '',      -- argon2id PHC string
	totp_secret TEXT NOT NULL DEFAULT '',   -- AES-GCM sealed, see store/secretbox.go
	totp_last_step BIGINT NOT NULL DEFAULT 0,
	failures INTEGER NOT NULL DEFAULT 0,
	locked_until TEXT NOT NULL DEFAULT '',
	disabled INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);

CREATE TABLE client_credentials (
	client TEXT NOT NULL REFERENCES clients (name) ON DELETE CASCADE,
	credential TEXT NOT NULL REFERENCES credentials (name) ON DELETE CASCADE,
	PRIMARY KEY (client, credential)
);
