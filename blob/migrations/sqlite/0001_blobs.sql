-- Uploaded documents for replicas without a shared file system (see
-- blob/db.go). SQLite compares TEXT bytewise, which DeletePrefix's range
-- condition relies on.
CREATE TABLE blobs (
	key TEXT PRIMARY KEY,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	data BLOB NOT NULL
);
