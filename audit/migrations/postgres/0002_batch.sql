-- Batch signing: an entry may name the batch it belongs to and the
-- caller's reference of the document. Both are '' for entries of single
-- signing requests, including every entry written before this migration,
-- which keep the v1 hash encoding (see ComputeHash). A constant default
-- is kept in the catalogue (PostgreSQL 11 and later): no row is rewritten
-- and the append-only trigger does not fire.
ALTER TABLE audit_log ADD COLUMN batch TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN ref TEXT NOT NULL DEFAULT '';

-- Counting and listing a batch's entries, by outcome and by document.
-- Partial: entries outside batches stay out of it, and it is built empty
-- over an existing log. Queries must say "batch <> ''" themselves for the
-- planner to use it with a generic plan (audit.Filter does).
CREATE INDEX audit_log_batch ON audit_log (batch, result, ref) WHERE batch <> '';
