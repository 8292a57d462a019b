-- The issuer registry: an entry may name the registered document it
-- signed or revoked (document_id), what it records (action: '' for a
-- signature, 'revoke') and a revocation's reason. All three are '' for
-- every entry written before, which keeps its v1 or v2 hash encoding
-- (see ComputeHash); entries with any of them set are encoded as v3.
ALTER TABLE audit_log ADD COLUMN action TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN document_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN reason TEXT NOT NULL DEFAULT '';

-- A document's entries: its signature and its revocation.
CREATE INDEX audit_log_document ON audit_log (document_id) WHERE document_id <> '';
