-- The audit log: one row per signing request, hash-chained (see
-- audit/audit.go for the canonical encoding). audit_head holds the
-- latest sequence number and hash; appends lock it to serialise.
CREATE TABLE audit_log (
	seq BIGINT PRIMARY KEY,
	at TEXT NOT NULL,
	request_id TEXT NOT NULL,
	client TEXT NOT NULL,
	credential TEXT NOT NULL,
	input_sha256 TEXT NOT NULL,
	output_sha256 TEXT NOT NULL,
	level TEXT NOT NULL,
	doc_number TEXT NOT NULL,
	doc_date TEXT NOT NULL,
	subject TEXT NOT NULL,
	urgency TEXT NOT NULL,
	secrecy TEXT NOT NULL,
	result TEXT NOT NULL,
	error_code TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);

CREATE TABLE audit_head (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	seq BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the engine refuses to change or remove an entry, and to
-- empty the table.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only';
END
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
