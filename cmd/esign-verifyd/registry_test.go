package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"esign/registry"
	"esign/store"
)

// TestDaemonRegistry runs the real binary on a database the signing
// service made: it finds the issuer registry in the SQLite file of the
// data directory, opened read-only, and serves GET /api/v1/documents/{id}
// and /d/{id}; without a database it runs without them.
func TestDaemonRegistry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, st, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := registry.NewID()
	if _, err := reg.Record(ctx, nil, registry.Document{ID: id, Client: "c", Credential: "k", Issuer: "มหาวิทยาลัยทดสอบ",
		RevisionSHA256: bytes.Repeat([]byte{7}, 32), Label: "6401234"}); err != nil {
		t.Fatal(err)
	}
	st.Close()

	addr := freeAddr(t)
	startVerifyd(t, addr, "ESIGN_DATA_DIR="+dir, "ESIGN_DATABASE_URL=")
	resp, err := http.Get("http://" + addr + "/api/v1/documents/" + id)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if resp.StatusCode != 200 || doc["status"] != "valid" || doc["issuer"] != "มหาวิทยาลัยทดสอบ" {
		t.Errorf("documents: %s %v", resp.Status, doc)
	}
	resp, err = http.Get("http://" + addr + "/d/" + id)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "เอกสารยังมีผลใช้ได้") || strings.Contains(string(body), "6401234") {
		t.Errorf("/d/: %s", resp.Status)
	}

	bare := freeAddr(t)
	startVerifyd(t, bare, "ESIGN_DATA_DIR="+t.TempDir(), "ESIGN_DATABASE_URL=")
	resp, err = http.Get("http://" + bare + "/api/v1/documents/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("without a database: %s", resp.Status)
	}
}

// TestLazyRegistry: on a database without the registry's table, lookups
// answer "no such document"; once the signing service has made it they
// find documents, after the retry interval and not before.
func TestLazyRegistry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rw, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	ro, err := store.Open(ctx, store.Options{DataDir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	lazy := newLazyRegistry(ro, slog.New(slog.DiscardHandler))
	lazy.now = func() time.Time { return now }
	id, _ := registry.NewID()
	sum := bytes.Repeat([]byte{7}, 32)
	if _, err := lazy.Get(ctx, id); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("no table: %v", err)
	}
	if _, err := lazy.ByRevision(ctx, sum); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("no table, by revision: %v", err)
	}

	reg, err := registry.Open(ctx, rw, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Record(ctx, nil, registry.Document{ID: id, Client: "c", Credential: "k", Issuer: "มหาวิทยาลัยทดสอบ",
		RevisionSHA256: sum}); err != nil {
		t.Fatal(err)
	}
	// Within the retry interval the database is not asked again.
	now = now.Add(registryRetry - time.Second)
	if _, err := lazy.Get(ctx, id); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("before the retry interval: %v", err)
	}
	now = now.Add(time.Second)
	if d, err := lazy.Get(ctx, id); err != nil || d.Issuer != "มหาวิทยาลัยทดสอบ" {
		t.Fatalf("after the table was made: %v %+v", err, d)
	}
	if d, err := lazy.ByRevision(ctx, sum); err != nil || d.ID != id {
		t.Fatalf("by revision: %v %+v", err, d)
	}
}

// TestDaemonRegistryLater runs the real binary on a database the signing
// service has not yet made the registry in, then makes it: the documents
// route answers 404 first and the document once the table is there,
// without restarting the verifier.
func TestDaemonRegistryLater(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := freeAddr(t)
	startVerifyd(t, addr, "ESIGN_DATA_DIR="+dir, "ESIGN_DATABASE_URL=")
	id, _ := registry.NewID()
	status := func() int {
		resp, err := http.Get("http://" + addr + "/api/v1/documents/" + id)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(); got != http.StatusNotFound {
		t.Fatalf("before the registry exists: %d", got)
	}

	reg, err := registry.Open(ctx, st, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Record(ctx, nil, registry.Document{ID: id, Client: "c", Credential: "k", Issuer: "มหาวิทยาลัยทดสอบ",
		RevisionSHA256: bytes.Repeat([]byte{8}, 32)}); err != nil {
		t.Fatal(err)
	}
	// The verifier looks again within registryRetry; the deadline only
	// bounds a hang.
	got := 0
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if got = status(); got == http.StatusOK {
			break
		}
	}
	if got != http.StatusOK {
		t.Errorf("after the registry was made: %d", got)
	}
}
