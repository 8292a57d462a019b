package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

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
