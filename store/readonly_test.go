package store_test

import (
	"context"
	"errors"
	"testing"

	"esign/store"
	"esign/store/storetest"
)

// TestReadOnly: a read-only store finds the clients a writer made, with
// the writer still open, and refuses to make a database of its own.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := store.Open(ctx, store.Options{DataDir: dir, ReadOnly: true}); err == nil {
		t.Fatal("read-only open of a missing database succeeded")
	}
	w := storetest.Open(t, store.SQLite, store.Options{DataDir: dir})
	key, err := w.CreateClient(ctx, "verifier-user", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := store.Open(ctx, store.Options{DataDir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	c, err := r.Authenticate(ctx, key)
	if err != nil || c.Name != "verifier-user" {
		t.Fatalf("Authenticate = %+v, %v", c, err)
	}
	if _, err := r.Authenticate(ctx, key+"0"); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("wrong key: %v", err)
	}
	// A change by the writer is seen at once.
	if err := w.SetClientDisabled(ctx, "verifier-user", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(ctx, key); !errors.Is(err, store.ErrUnauthenticated) {
		t.Fatalf("disabled client: %v", err)
	}
	if _, err := r.CreateClient(ctx, "nope", nil); err == nil {
		t.Fatal("a read-only store wrote")
	}
}
