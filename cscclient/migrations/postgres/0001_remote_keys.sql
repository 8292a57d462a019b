-- Credentials whose key lives in a remote CSC service (package
-- cscclient). The remote API key is not stored: key_file names the file
-- it is read from, on every replica, when the key is first used.
CREATE TABLE csc_remote_keys (
	credential TEXT PRIMARY KEY,
	url TEXT NOT NULL,
	remote_credential TEXT NOT NULL,
	key_file TEXT NOT NULL
);
