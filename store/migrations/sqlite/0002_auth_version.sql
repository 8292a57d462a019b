-- A counter that every change to clients, credentials and their
-- assignments advances, whichever process makes it. A server caches what
-- authentication and authorisation found, stamped with the counter, and
-- reads only the counter while it is unchanged. Activation bookkeeping
-- (failures, locked_until, totp_last_step) does not count: activation
-- reads it fresh on every attempt.
CREATE TABLE auth_version (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	version BIGINT NOT NULL
);
INSERT INTO auth_version (id, version) VALUES (1, 0);

CREATE TRIGGER clients_insert AFTER INSERT ON clients
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER clients_update AFTER UPDATE ON clients
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER clients_delete AFTER DELETE ON clients
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER credentials_insert AFTER INSERT ON credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_update AFTER UPDATE OF name, display_name, position, key_label, chain_pem, activation, pin_hash, totp_secret, disabled ON credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER credentials_delete AFTER DELETE ON credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;

CREATE TRIGGER client_credentials_insert AFTER INSERT ON client_credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER client_credentials_update AFTER UPDATE ON client_credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER client_credentials_delete AFTER DELETE ON client_credentials
BEGIN UPDATE auth_version SET version = version + 1 WHERE id = 1; END;
