-- Batches of documents signed with one credential and one set of options,
-- and their documents. Times are UTC text (2006-01-02T15:04:05.000000Z);
-- "" means none. A document's signed file is its input followed by
-- signed_update, which commits with the state that says it is signed.
CREATE TABLE batches (
	id TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	idempotency_key TEXT NOT NULL DEFAULT '',
	signer TEXT NOT NULL,
	level TEXT NOT NULL,
	options TEXT NOT NULL,                 -- JSON object of /sign options
	state TEXT NOT NULL CHECK (state IN ('open', 'closed', 'cancelled')),
	activated_until TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	closed_at TEXT NOT NULL DEFAULT '',
	cancelled_at TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX batches_idempotency ON batches (client, idempotency_key) WHERE idempotency_key <> '';

CREATE TABLE batch_documents (
	batch_id TEXT NOT NULL REFERENCES batches (id),
	ref TEXT NOT NULL,
	state TEXT NOT NULL CHECK (state IN ('pending', 'signed', 'failed', 'cancelled')),
	options TEXT NOT NULL DEFAULT '',      -- the document's own options, JSON
	input_key TEXT NOT NULL,               -- in the blob store
	input_sha256 TEXT NOT NULL,
	input_size BIGINT NOT NULL,
	output_sha256 TEXT NOT NULL DEFAULT '',
	signed_update BLOB,
	field TEXT NOT NULL DEFAULT '',
	error_status INTEGER NOT NULL DEFAULT 0,
	error_code TEXT NOT NULL DEFAULT '',
	error_message TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	ended_at TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (batch_id, ref)
);
CREATE INDEX batch_documents_state ON batch_documents (batch_id, state, ended_at);
CREATE INDEX batch_documents_pending ON batch_documents (state) WHERE state = 'pending';

-- The replicas working the queue, by River client ID, and when each last
-- said it was alive: the running jobs of one that stopped are rescued.
CREATE TABLE batch_replicas (
	id TEXT PRIMARY KEY,
	seen_at TEXT NOT NULL
);
