-- Uploaded documents for replicas without a shared file system (see
-- blob/db.go). Keys sort bytewise (COLLATE "C") whatever the database's
-- locale, as DeletePrefix's range condition needs: a collation that
-- ignores punctuation, as glibc's en_US.UTF-8 does, puts "b-1/x" outside
-- ["b-1/", "b-10").
CREATE TABLE blobs (
	key TEXT COLLATE "C" PRIMARY KEY,
	size BIGINT NOT NULL,
	sha256 TEXT NOT NULL,
	data BYTEA NOT NULL
);
-- PDFs are mostly compressed streams already: keep them out of line
-- without another round of compression.
ALTER TABLE blobs ALTER COLUMN data SET STORAGE EXTERNAL;
