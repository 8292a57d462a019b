package batch

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"testing"

	"esign/audit"
	"esign/registry"
	"esign/signopts"
	"esign/store"
	"esign/store/storetest"
)

const testVerifyURL = "https://verify.example.ac.th"

// withRegistry gives an engine the issuer registry.
func withRegistry(t *testing.T, h *harness) (*registry.Registry, func(*Config)) {
	t.Helper()
	reg, err := registry.Open(context.Background(), h.st, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reg, func(c *Config) { c.Registry, c.PublicVerifyURL = reg, testVerifyURL }
}

const xmlData = `<?xml version="1.0" encoding="UTF-8"?><Transcript><StudentID>%s</StudentID></Transcript>`

// TestRegisteredDocuments: per-document attachment, QR and label; a
// registry ID fixed on acceptance, kept by a repeated PUT and by every
// job of the document; listing, output and manifest carry it; the
// registry holds exactly the signed documents, each with its audit entry.
func TestRegisteredDocuments(t *testing.T) {
	for _, backend := range storetest.Backends() {
		t.Run(string(backend), func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, backend)
			reg, withReg := withRegistry(t, h)
			in := h.engine(t, 0, withReg) // takes documents in, signs none
			st := h.create(t, in, map[string]string{"register": "true"})
			type doc struct {
				ref   string
				spec  DocumentSpec
				label string
				id    string
			}
			docs := []*doc{
				{ref: "s-1", label: "6401", spec: DocumentSpec{
					Options:    map[string]string{"label": "6401", "attachment_description": "ใบแสดงผลการเรียน", "qr": "true", "qr_page": "1"},
					Attachment: &signopts.File{Name: "6401.xml", Data: fmt.Appendf(nil, xmlData, "6401")},
				}},
				{ref: "s-2", label: "6402", spec: DocumentSpec{
					Options:    map[string]string{"label": "6402", "attachment_relationship": "Source"},
					Attachment: &signopts.File{Name: "6402.xml", Data: fmt.Appendf(nil, xmlData, "6402")},
				}},
				{ref: "s-3"}, // registered by the batch's register
			}
			for i, d := range docs {
				got, created, err := in.Add(ctx, h.client, st.ID, d.ref, bytes.NewReader(h.variant(i)), d.spec)
				if err != nil || !created {
					t.Fatalf("add %s: %v", d.ref, err)
				}
				if !registry.ValidID(got.DocumentID) || got.VerifyURL != testVerifyURL+"/d/"+got.DocumentID {
					t.Fatalf("%s: document ID %q, verify URL %q", d.ref, got.DocumentID, got.VerifyURL)
				}
				d.id = got.DocumentID
				// A repeat keeps the ID.
				again, created, err := in.Add(ctx, h.client, st.ID, d.ref, bytes.NewReader(h.variant(i)), d.spec)
				if err != nil || created || again.DocumentID != d.id {
					t.Fatalf("repeat of %s: %+v, created %v, %v", d.ref, again, created, err)
				}
				// Extra jobs, as after rescues of killed workers.
				if err := h.st.WithTx(ctx, func(tx *store.Tx) error { return in.queue.enqueueTx(ctx, tx, st.ID, d.ref) }); err != nil {
					t.Fatal(err)
				}
			}
			listed, _, err := in.Documents(ctx, h.client, st.ID, "", "", 0)
			if err != nil || len(listed) != len(docs) {
				t.Fatalf("listing: %v, %v", listed, err)
			}
			for i, d := range listed {
				if d.DocumentID != docs[i].id || d.VerifyURL != testVerifyURL+"/d/"+docs[i].id {
					t.Errorf("listed %s: %q %q", d.Ref, d.DocumentID, d.VerifyURL)
				}
			}
			h.engine(t, 2, withReg)
			done := h.waitDone(t, in, st.ID)
			if done.Signed != int64(len(docs)) {
				t.Fatalf("status %+v", done)
			}
			for i, d := range docs {
				out := h.checkOutput(t, in, st.ID, d.ref, h.variant(i))
				o, err := in.Output(ctx, h.client, st.ID, d.ref)
				if err != nil {
					t.Fatal(err)
				}
				o.Close()
				if o.DocumentID != d.id || o.VerifyURL != testVerifyURL+"/d/"+d.id {
					t.Errorf("output of %s names %q %q", d.ref, o.DocumentID, o.VerifyURL)
				}
				r, err := reg.Get(ctx, d.id)
				if err != nil {
					t.Fatalf("%s: %v", d.ref, err)
				}
				sum := sha256.Sum256(out) // at B-B the signed revision is the whole output
				if r.Client != "university" || r.Credential != "registrar" || r.Issuer != "ทะเบียน test" || r.Label != d.label ||
					r.Batch != st.ID || r.Ref != d.ref || !bytes.Equal(r.RevisionSHA256, sum[:]) {
					t.Errorf("registry row of %s: %+v", d.ref, r)
				}
				if d.spec.Attachment != nil && !bytes.Contains(out, []byte(d.spec.Attachment.Name)) {
					t.Errorf("%s: the attachment's name is not in the signed file", d.ref)
				}
				es, err := h.log.List(ctx, audit.Filter{Document: d.id}, 10)
				if err != nil || len(es) != 1 || es[0].Ref != d.ref || es[0].Result != audit.Success {
					t.Errorf("audit entries of %s: %+v, %v", d.ref, es, err)
				}
			}
			var rows int
			if err := h.st.QueryRow(ctx, "SELECT COUNT(*) FROM registry_documents WHERE batch_id = ?", st.ID).Scan(&rows); err != nil || rows != len(docs) {
				t.Fatalf("%d registry rows (%v), want one per signed document, %d", rows, err, len(docs))
			}
			if _, err := h.log.Verify(ctx); err != nil {
				t.Fatal(err)
			}

			var buf bytes.Buffer
			if err := in.WriteResults(ctx, h.client, st.ID, &buf); err != nil {
				t.Fatal(err)
			}
			zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range zr.File {
				if f.Name != "manifest.json" {
					continue
				}
				r, _ := f.Open()
				b, _ := io.ReadAll(r)
				r.Close()
				var m struct{ Documents []Document }
				if err := json.Unmarshal(b, &m); err != nil || len(m.Documents) != len(docs) {
					t.Fatalf("manifest: %v", err)
				}
				for i, d := range m.Documents {
					if d.DocumentID != docs[i].id || d.VerifyURL != testVerifyURL+"/d/"+docs[i].id {
						t.Errorf("manifest entry %s: %q %q", d.Ref, d.DocumentID, d.VerifyURL)
					}
				}
			}
		})
	}
}

// TestDocumentRegistryRefusals: bad per-document fields are refused when
// the document is put, before anything is stored.
func TestDocumentRegistryRefusals(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, store.SQLite)
	_, withReg := withRegistry(t, h)
	e := h.engine(t, 0, withReg)
	plain := h.create(t, e, nil)
	xml := &signopts.File{Name: "a.xml", Data: []byte("<a/>")}
	for _, tc := range []struct {
		name string
		spec DocumentSpec
	}{
		{"label without register", DocumentSpec{Options: map[string]string{"label": "x"}}},
		{"bad relationship", DocumentSpec{Options: map[string]string{"attachment_relationship": "Other"}, Attachment: xml}},
		{"attachment field without attachment", DocumentSpec{Options: map[string]string{"attachment_name": "a.xml"}}},
		{"attachment as text", DocumentSpec{Options: map[string]string{"attachment": "<a/>"}}},
		{"qr_rect without qr", DocumentSpec{Options: map[string]string{"qr_rect": "1,1,100,100"}}},
		{"bad qr_page", DocumentSpec{Options: map[string]string{"qr": "true", "qr_page": "0"}}},
		{"batch-only option", DocumentSpec{Options: map[string]string{"level": "B-LTA"}}},
		{"attachment with a path", DocumentSpec{Options: map[string]string{"attachment_name": "../a.xml"}, Attachment: xml}},
	} {
		_, _, err := e.Add(ctx, h.client, plain.ID, "doc", bytes.NewReader(h.pdf), tc.spec)
		if !errors.Is(err, ErrInvalid) && !errors.Is(err, signopts.ErrInvalid) {
			t.Errorf("%s: err = %v, want invalid", tc.name, err)
		}
	}
	if docs, _, _ := e.Documents(ctx, h.client, plain.ID, "", "", 0); len(docs) != 0 {
		t.Fatalf("refused documents were stored: %v", docs)
	}
	// A document not registered has no ID.
	d, _, err := e.Add(ctx, h.client, plain.ID, "plain", bytes.NewReader(h.pdf), DocumentSpec{Attachment: xml})
	if err != nil || d.DocumentID != "" || d.VerifyURL != "" {
		t.Fatalf("unregistered document: %+v, %v", d, err)
	}

	// The same ref and bytes with another attachment, other attachment
	// bytes or other options are not the same document: 409, and the
	// first stays as it was.
	for _, tc := range []struct {
		name string
		spec DocumentSpec
	}{
		{"no attachment", DocumentSpec{}},
		{"corrected XML", DocumentSpec{Attachment: &signopts.File{Name: "a.xml", Data: []byte("<a>fixed</a>")}}},
		{"renamed", DocumentSpec{Attachment: &signopts.File{Name: "b.xml", Data: xml.Data}}},
		{"another option", DocumentSpec{Attachment: xml, Options: map[string]string{"attachment_relationship": "Source"}}},
	} {
		if _, _, err := e.Add(ctx, h.client, plain.ID, "plain", bytes.NewReader(h.pdf), tc.spec); !errors.Is(err, ErrConflict) {
			t.Errorf("repeat with %s: %v, want ErrConflict", tc.name, err)
		}
	}
	if again, created, err := e.Add(ctx, h.client, plain.ID, "plain", bytes.NewReader(h.pdf), DocumentSpec{Attachment: xml}); err != nil || created || again.InputSHA256 != d.InputSHA256 {
		t.Fatalf("the same repeat: %+v, created %v, %v", again, created, err)
	}

	// Without a registry, registration is refused, for a batch and a
	// document.
	noReg := h.engine(t, 0)
	if _, _, err := noReg.Create(ctx, h.client, Spec{Options: map[string]string{"signer": "registrar", "qr": "true"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("batch with qr and no registry: %v", err)
	}
	if _, _, err := noReg.Add(ctx, h.client, plain.ID, "reg", bytes.NewReader(h.pdf), DocumentSpec{Options: map[string]string{"register": "true"}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("registered document and no registry: %v", err)
	}
}
