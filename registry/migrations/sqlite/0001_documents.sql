-- The issuer registry (package registry): what was issued, and its status.
CREATE TABLE registry_documents (
	id TEXT PRIMARY KEY,
	client TEXT NOT NULL,
	credential TEXT NOT NULL,
	issuer TEXT NOT NULL DEFAULT '',
	issued_at TEXT NOT NULL,
	revision_sha256 TEXT NOT NULL,
	label TEXT NOT NULL DEFAULT '',
	batch_id TEXT NOT NULL DEFAULT '',
	ref TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL DEFAULT 'valid',
	revoked_at TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX registry_documents_revision ON registry_documents (revision_sha256);
