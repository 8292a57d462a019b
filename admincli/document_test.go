package admincli_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"esign/admincli"
	"esign/registry"
	"esign/store"
)

func TestDocumentRevokeAndShow(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		e := newEnv(t, b)
		e.vars["USER"] = "somchai"
		reg, err := registry.Open(ctx, e.store(), registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := registry.NewID()
		sum := sha256.Sum256([]byte("revision"))
		if _, err := reg.Record(ctx, nil, registry.Document{ID: id, Client: "university", Credential: "registrar",
			Issuer: "มหาวิทยาลัยตัวอย่าง", RevisionSHA256: sum[:], Label: "6401234567", Batch: "b1", Ref: "s-1"}); err != nil {
			t.Fatal(err)
		}
		type shown struct {
			ID, Status, Issuer, Reason, Label, Client, Credential, Batch, Ref string
			RevokedAt                                                         *string `json:"revoked_at"`
			RevisionSHA256                                                    string  `json:"revision_sha256"`
		}
		var d shown
		if err := json.Unmarshal([]byte(e.ok("document", "show", id)), &d); err != nil {
			t.Fatal(err)
		}
		if d.ID != id || d.Status != "valid" || d.Client != "university" || d.Label != "6401234567" || d.RevokedAt != nil ||
			d.Batch != "b1" || d.Ref != "s-1" || d.RevisionSHA256 == "" {
			t.Fatalf("show: %+v", d)
		}

		out := e.ok("document", "revoke", id, "--reason", "ปริญญาถูกเพิกถอน")
		if err := json.Unmarshal([]byte(out), &d); err != nil || d.Status != "revoked" || d.Reason != "ปริญญาถูกเพิกถอน" || d.RevokedAt == nil {
			t.Fatalf("revoke printed %s (%v)", out, err)
		}
		if got, _ := reg.Get(ctx, id); got.Status != registry.Revoked {
			t.Fatalf("registry after revoke: %+v", got)
		}

		// The audit log names the operator, the document and the reason,
		// and verifies.
		line := strings.TrimSpace(e.ok("audit", "list"))
		var entry struct {
			Client, Action, Reason, Result string
			Document                       string `json:"document_id"`
		}
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("audit list: %q: %v", line, err)
		}
		if entry.Client != "admin:somchai" || entry.Action != "revoke" || entry.Document != id || entry.Reason != "ปริญญาถูกเพิกถอน" || entry.Result != "success" {
			t.Fatalf("audit entry %+v", entry)
		}
		if out := e.ok("audit", "verify"); !strings.Contains(out, "1 entries") {
			t.Fatalf("audit verify: %s", out)
		}

		unknown, _ := registry.NewID()
		for _, tc := range []struct {
			name  string
			args  []string
			check func(error) bool
		}{
			{"revoke again", []string{"document", "revoke", id, "--reason", "x"}, func(err error) bool { return errors.Is(err, registry.ErrRevoked) }},
			{"revoke unknown", []string{"document", "revoke", unknown, "--reason", "x"}, func(err error) bool { return errors.Is(err, registry.ErrNotFound) }},
			{"show unknown", []string{"document", "show", unknown}, func(err error) bool { return errors.Is(err, registry.ErrNotFound) }},
			{"show malformed", []string{"document", "show", "../x"}, func(err error) bool { return errors.Is(err, registry.ErrNotFound) }},
			{"revoke without reason", []string{"document", "revoke", id}, func(err error) bool { return errors.Is(err, admincli.ErrUsage) }},
			{"revoke blank reason", []string{"document", "revoke", id, "--reason", " "}, func(err error) bool { return errors.Is(err, admincli.ErrUsage) }},
			{"show without ID", []string{"document", "show"}, func(err error) bool { return errors.Is(err, admincli.ErrUsage) }},
		} {
			_, _, err := e.run("", tc.args...)
			if err == nil || !tc.check(err) {
				t.Errorf("%s: err = %v", tc.name, err)
			}
		}
		if out := e.ok("audit", "verify"); !strings.Contains(out, "1 entries") {
			t.Fatalf("refusals were audited: %s", out)
		}
	})
}
