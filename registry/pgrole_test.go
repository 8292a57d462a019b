package registry_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"testing"

	"esign/registry"
	"esign/store"
	"esign/store/storetest"
)

// TestPostgresReadOnlyRole: the verifier's role, made with exactly the
// grants the README gives, finds registered documents and can change
// nothing — not the registry, not anything else the store holds.
func TestPostgresReadOnlyRole(t *testing.T) {
	ctx := context.Background()
	dbURL := storetest.Schema(t)
	w, err := store.Open(ctx, store.Options{DatabaseURL: dbURL, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	reg, err := registry.Open(ctx, w, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := reg.Record(ctx, nil, newDoc(t, "uni", "6401234567"))
	if err != nil {
		t.Fatal(err)
	}

	u, _ := url.Parse(dbURL)
	schema := u.Query().Get("search_path")
	b := make([]byte, 6)
	rand.Read(b)
	role := "verifier_" + hex.EncodeToString(b)
	password := hex.EncodeToString(b) + "pw"
	// The README's grants, on the test's schema instead of public.
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD '" + password + "'",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON " + schema + ".registry_documents, " + schema + ".schema_migrations TO " + role,
		"ALTER ROLE " + role + " SET default_transaction_read_only = on",
	} {
		if _, err := w.DB().ExecContext(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		w.DB().Exec("DROP OWNED BY " + role)
		w.DB().Exec("DROP ROLE " + role)
	})

	ru := *u
	ru.User = url.UserPassword(role, password)
	// The verifier's own way in: a read-only store, then the registry.
	ro, err := store.Open(ctx, store.Options{DatabaseURL: ru.String(), ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only store as the verifier's role: %v", err)
	}
	defer ro.Close()
	rreg, err := registry.OpenReadOnly(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rreg.Get(ctx, d.ID); err != nil || got.Status != registry.Valid {
		t.Fatalf("Get as the verifier's role: %+v, %v", got, err)
	}
	if got, err := rreg.ByRevision(ctx, d.RevisionSHA256); err != nil || got.ID != d.ID {
		t.Fatalf("ByRevision as the verifier's role: %+v, %v", got, err)
	}
	if _, err := rreg.Revoke(ctx, nil, d.ID, "uni", "try"); err == nil {
		t.Fatal("the verifier's role revoked a document")
	}
	db, err := sql.Open("pgx", ru.String())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range []string{
		"UPDATE registry_documents SET status = 'revoked' WHERE id = '" + d.ID + "'",
		"INSERT INTO registry_documents (id, client, credential, issued_at, revision_sha256) VALUES ('x', 'c', 'c', 't', 'd')",
		"DELETE FROM registry_documents",
		"CREATE TABLE intruder (x int)",
		"UPDATE schema_migrations SET version = 0",
	} {
		if _, err := db.ExecContext(ctx, stmt); err == nil {
			t.Errorf("the verifier's role could run %q", stmt)
		}
	}
	if got, err := reg.Get(ctx, d.ID); err != nil || got.Status != registry.Valid {
		t.Fatalf("after the role's attempts: %+v, %v", got, err)
	}
}
