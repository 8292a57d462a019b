-- Renewal of kept documents (package renewjob). A signed document's file
-- is its input, signed_update, then renewed_update: what its renewals
-- appended (validation data and document timestamps), kept apart so that
-- signed_update stays what was signed. output_sha256 is the digest of the
-- whole file as served. proof_expires_at is when the certificate its
-- proof rests on expires ('' until a renewal run has looked).
ALTER TABLE batch_documents ADD COLUMN renewed_update BYTEA;
ALTER TABLE batch_documents ADD COLUMN renewals INTEGER NOT NULL DEFAULT 0;
ALTER TABLE batch_documents ADD COLUMN renewed_at TEXT NOT NULL DEFAULT '';
ALTER TABLE batch_documents ADD COLUMN proof_expires_at TEXT NOT NULL DEFAULT '';
CREATE INDEX batch_documents_proof ON batch_documents (proof_expires_at) WHERE state = 'signed';
