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

CREATE FUNCTION esign_auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE auth_version SET version = version + 1 WHERE id = 1;
	RETURN NULL;
END
$$;

CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON clients
	FOR EACH STATEMENT EXECUTE FUNCTION esign_auth_changed();
CREATE TRIGGER credentials_changed AFTER INSERT OR DELETE OR TRUNCATE
	OR UPDATE OF name, display_name, position, key_label, chain_pem, activation, pin_hash, totp_secret, disabled ON credentials
	FOR EACH STATEMENT EXECUTE FUNCTION esign_auth_changed();
CREATE TRIGGER client_credentials_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON client_credentials
	FOR EACH STATEMENT EXECUTE FUNCTION esign_auth_changed();
