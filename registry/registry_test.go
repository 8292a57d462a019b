package registry_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"testing"
	"time"

	"esign/registry"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

func newDoc(t *testing.T, client, label string) registry.Document {
	t.Helper()
	id, err := registry.NewID()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(id))
	return registry.Document{ID: id, Client: client, Credential: "registrar", Issuer: "มหาวิทยาลัยตัวอย่าง", RevisionSHA256: sum[:], Label: label}
}

// TestRegistry: record, look up by ID and by revision, revoke by the
// issuing client only, on both backends.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			st := storetest.Open(t, b, store.Options{})
			now := time.Date(2026, 12, 5, 7, 0, 0, 123456789, time.UTC)
			reg, err := registry.Open(ctx, st, registry.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			d := newDoc(t, "uni", "6401234")
			if _, err := reg.Record(ctx, nil, d); err != nil {
				t.Fatal(err)
			}
			got, err := reg.Get(ctx, d.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != registry.Valid || got.Label != "6401234" || got.Issuer != "มหาวิทยาลัยตัวอย่าง" || !got.IssuedAt.Equal(now.Truncate(time.Microsecond)) ||
				!bytes.Equal(got.RevisionSHA256, d.RevisionSHA256) || !got.RevokedAt.IsZero() {
				t.Fatalf("Get = %+v", got)
			}
			if byRev, err := reg.ByRevision(ctx, d.RevisionSHA256); err != nil || byRev.ID != d.ID {
				t.Fatalf("ByRevision = %+v, %v", byRev, err)
			}
			other := sha256.Sum256([]byte("other"))
			if _, err := reg.ByRevision(ctx, other[:]); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("ByRevision of an unknown digest: %v", err)
			}
			for _, id := range []string{"", "x", d.ID[:len(d.ID)-1] + "!", d.ID + "A"} {
				if _, err := reg.Get(ctx, id); !errors.Is(err, registry.ErrNotFound) {
					t.Fatalf("Get(%q): %v", id, err)
				}
			}
			if _, err := reg.Revoke(ctx, nil, d.ID, "another", "wrong grade"); !errors.Is(err, registry.ErrNotFound) {
				t.Fatalf("revoke by another client: %v", err)
			}
			if _, err := reg.Revoke(ctx, nil, d.ID, "uni", "  "); !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("revoke without a reason: %v", err)
			}
			now = now.Add(time.Hour)
			rv, err := reg.Revoke(ctx, nil, d.ID, "uni", "แก้ไขผลการเรียน")
			if err != nil || rv.Status != registry.Revoked || !rv.RevokedAt.Equal(now.Truncate(time.Microsecond)) {
				t.Fatalf("Revoke = %+v, %v", rv, err)
			}
			if _, err := reg.Revoke(ctx, nil, d.ID, "uni", "again"); !errors.Is(err, registry.ErrRevoked) {
				t.Fatalf("second revoke: %v", err)
			}
			got, err = reg.Get(ctx, d.ID)
			if err != nil || got.Status != registry.Revoked || got.Reason != "แก้ไขผลการเรียน" {
				t.Fatalf("after revoke Get = %+v, %v", got, err)
			}
			bad := newDoc(t, "uni", "a\x00b")
			if _, err := reg.Record(ctx, nil, bad); !errors.Is(err, registry.ErrInvalid) {
				t.Fatalf("label with NUL: %v", err)
			}
			dup := newDoc(t, "uni", "")
			dup.ID = d.ID
			if _, err := reg.Record(ctx, nil, dup); err == nil {
				t.Fatal("a second document with the same ID was recorded")
			}
		})
	}
}

// TestReadOnly: the verifier's read-only registry finds what the writer
// recorded and cannot write.
func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := storetest.Open(t, store.SQLite, store.Options{DataDir: dir})
	reg, err := registry.Open(ctx, w, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := newDoc(t, "uni", "")
	if _, err := reg.Record(ctx, nil, d); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(ctx, store.Options{DataDir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	rreg, err := registry.OpenReadOnly(ctx, ro)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rreg.Get(ctx, d.ID); err != nil || got.ID != d.ID {
		t.Fatalf("read-only Get = %+v, %v", got, err)
	}
	if _, err := rreg.Revoke(ctx, nil, d.ID, "uni", "try"); err == nil {
		t.Fatal("the read-only registry revoked a document")
	}
	if _, err := rreg.Record(ctx, nil, newDoc(t, "uni", "")); err == nil {
		t.Fatal("the read-only registry recorded a document")
	}
	if got, _ := reg.Get(ctx, d.ID); got.Status != registry.Valid {
		t.Fatalf("status after the read-only attempts: %s", got.Status)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id, err := registry.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !registry.ValidID(id) || len(id) < 22 || seen[id] || id[0] == '-' {
			t.Fatalf("ID %q: valid %v, seen %v", id, registry.ValidID(id), seen[id])
		}
		seen[id] = true
	}
}
