-- A document to be registered (qr or register) gets its registry ID when
-- it is accepted, so that every try of its job, on any replica, prints
-- the same QR code and records the same ID; '' for one not registered.
ALTER TABLE batch_documents ADD COLUMN document_id TEXT NOT NULL DEFAULT '';
