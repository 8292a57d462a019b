package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"esign/audit"
	"esign/registry"
	"esign/signer"
	"esign/store"
)

const testVerifyURL = "https://verify.example.ac.th"

// newRegistryServer is newTestServer with the issuer registry.
func newRegistryServer(t *testing.T) (*Server, *registry.Registry, string, string) {
	t.Helper()
	s, key := newTestServer(t, Config{})
	reg, err := registry.Open(context.Background(), s.cfg.Store, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Registry, s.cfg.PublicVerifyURL = reg, testVerifyURL
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, reg, srv.URL, key
}

// part is a form part: a text field, or a file when name is set.
type part struct{ field, value, filename string }

func postSign(t *testing.T, url, key, pdfPath string, parts ...part) (*http.Response, []byte) {
	t.Helper()
	pdf, err := os.ReadFile(pdfPath)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "in.pdf")
	fw.Write(pdf)
	mw.WriteField("signer", "signer")
	mw.WriteField("level", "B-B")
	for _, p := range parts {
		if p.filename != "" || p.field == "attachment" {
			w, _ := mw.CreateFormFile(p.field, p.filename)
			io.WriteString(w, p.value)
		} else {
			mw.WriteField(p.field, p.value)
		}
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/sign", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, out
}

const transcriptXML = `<?xml version="1.0" encoding="UTF-8"?><Transcript><StudentID>6401234567</StudentID></Transcript>`

// TestSignRegistered: a document signed with register and an XML
// attachment is recorded with the signed revision's digest, the audit
// entry names it, and the answer carries its ID and verification URL.
func TestSignRegistered(t *testing.T) {
	s, reg, url, key := newRegistryServer(t)
	ctx := context.Background()
	resp, out := postSign(t, url, key, "../testdata/corpus/transcript-libreoffice-pdfa3b.pdf",
		part{"attachment", transcriptXML, "transcript.xml"}, part{field: "register", value: "true"}, part{field: "label", value: "6401234567"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign: %s %s", resp.Status, out)
	}
	id := resp.Header.Get("X-Esign-Document-Id")
	if !registry.ValidID(id) || resp.Header.Get("X-Esign-Verify-URL") != testVerifyURL+"/d/"+id {
		t.Fatalf("headers: id %q, verify URL %q", id, resp.Header.Get("X-Esign-Verify-URL"))
	}
	d, err := reg.Get(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out) // at B-B the signed revision is the whole output
	if d.Client != "client" || d.Credential != "signer" || d.Issuer != "test signer" || d.Label != "6401234567" ||
		d.Status != registry.Valid || !bytes.Equal(d.RevisionSHA256, sum[:]) {
		t.Fatalf("registry row %+v", d)
	}
	if !bytes.Contains(out, []byte("transcript.xml")) {
		t.Error("the attachment's name is not in the signed file")
	}
	es, err := s.cfg.Audit.List(ctx, audit.Filter{Document: id}, 10)
	if err != nil || len(es) != 1 || es[0].Result != audit.Success || es[0].Action != "" {
		t.Fatalf("audit entries of %s: %+v, %v", id, es, err)
	}
	if _, err := s.cfg.Audit.Verify(ctx); err != nil {
		t.Fatal(err)
	}

	// Refusals by the signer, with their codes.
	for _, tc := range []struct {
		name, pdf string
		status    int
		code      string
	}{
		{"PDF/A-2b with an attachment", "../testdata/corpus/memo-libreoffice-pdfa2b.pdf", 422, "attachment_forbidden"},
		{"signed document with an attachment", "", 409, "already_signed"},
	} {
		path := tc.pdf
		if path == "" {
			path = t.TempDir() + "/signed.pdf"
			os.WriteFile(path, out, 0o600)
		}
		resp, body := postSign(t, url, key, path, part{"attachment", transcriptXML, "transcript.xml"}, part{field: "register", value: "true"})
		if resp.StatusCode != tc.status || !strings.Contains(string(body), `"`+tc.code+`"`) || resp.Header.Get("X-Esign-Document-Id") != "" {
			t.Errorf("%s: %s %s, want %d %s", tc.name, resp.Status, body, tc.status, tc.code)
		}
	}
}

// TestSignRegistryRefusals: bad attachment, QR and registry fields get
// 4xx JSON before anything is signed or registered.
func TestSignRegistryRefusals(t *testing.T) {
	s, _, url, key := newRegistryServer(t)
	noRegistry, key2 := newTestServer(t, Config{})
	plain := httptest.NewServer(noRegistry.Handler())
	defer plain.Close()
	for _, tc := range []struct {
		name   string
		url    string
		parts  []part
		status int
		code   string
	}{
		{"label without register", url, []part{{field: "label", value: "x"}}, 400, "bad_request"},
		{"attachment field without attachment", url, []part{{field: "attachment_name", value: "a.xml"}}, 400, "bad_request"},
		{"bad relationship", url, []part{{"attachment", "<a/>", "a.xml"}, {field: "attachment_relationship", value: "Other"}}, 400, "bad_request"},
		{"attachment without a name", url, []part{{"attachment", "<a/>", ""}}, 400, "bad_request"},
		{"empty attachment", url, []part{{"attachment", "", "a.xml"}}, 400, "bad_request"},
		{"two attachments", url, []part{{"attachment", "<a/>", "a.xml"}, {"attachment", "<b/>", "b.xml"}}, 400, "bad_request"},
		{"attachment over the limit", url, []part{{"attachment", strings.Repeat("x", 10<<20+1), "big.xml"}}, 413, "too_large"},
		{"qr_page without qr", url, []part{{field: "qr_page", value: "2"}}, 400, "bad_request"},
		{"bad qr_rect", url, []part{{field: "qr", value: "true"}, {field: "qr_rect", value: "0,0,1"}}, 400, "bad_request"},
		{"bad register", url, []part{{field: "register", value: "yes"}}, 400, "bad_request"},
		{"unknown field", url, []part{{field: "qr_size", value: "64"}}, 400, "unknown_field"},
		{"register without a registry", plain.URL, []part{{field: "register", value: "true"}}, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := key
			if tc.url == plain.URL {
				k = key2
			}
			resp, body := postSign(t, tc.url, k, "../testdata/corpus/memo-chromium.pdf", tc.parts...)
			var e struct{ Error apiError }
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.status || e.Error.Code != tc.code {
				t.Fatalf("%s %s, want %d %s", resp.Status, body, tc.status, tc.code)
			}
			if resp.Header.Get("X-Esign-Document-Id") != "" {
				t.Error("a refused request was given a document ID")
			}
		})
	}
	n, err := s.cfg.Store.DB().QueryContext(context.Background(), "SELECT id FROM registry_documents")
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.Next() {
		t.Fatal("a refused request was registered")
	}
}

func TestStatusOfRegistry(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("embed: %w", signer.ErrAttachmentForbidden), http.StatusUnprocessableEntity, "attachment_forbidden"},
		{fmt.Errorf("embed: %w", signer.ErrAlreadySigned), http.StatusConflict, "already_signed"},
		{registry.ErrNotFound, http.StatusNotFound, "not_found"},
		{registry.ErrRevoked, http.StatusConflict, "already_revoked"},
		{registry.ErrInvalid, http.StatusBadRequest, "bad_request"},
		{internal(fmt.Errorf("record: %w", registry.ErrInvalid)), http.StatusInternalServerError, "internal"},
		{errors.Join(store.ErrForbidden), http.StatusForbidden, "forbidden"},
	} {
		if status, code := statusOf(tc.err); status != tc.status || code != tc.code {
			t.Errorf("statusOf(%v) = %d %s, want %d %s", tc.err, status, code, tc.status, tc.code)
		}
	}
}

// TestAttachmentMemoryBudget: an attachment holds its part of the shared
// upload memory until the request ends, and one the budget cannot hold
// is refused as busy, not read without bound.
func TestAttachmentMemoryBudget(t *testing.T) {
	s, _, url, key := newRegistryServer(t)
	free := s.memory.free.Load()
	resp, body := postSign(t, url, key, "../testdata/corpus/memo-chromium.pdf", part{"attachment", strings.Repeat("x", 1<<20), "a.xml"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign with a 1 MiB attachment: %s %s", resp.Status, body)
	}
	if got := s.memory.free.Load(); got != free {
		t.Fatalf("budget after the request: %d, want %d back", got, free)
	}
	s.memory.take(free - 512<<10) // other uploads hold all but 512 KiB
	resp, body = postSign(t, url, key, "../testdata/corpus/memo-chromium.pdf", part{"attachment", strings.Repeat("x", 1<<20), "a.xml"})
	var e struct{ Error apiError }
	if json.Unmarshal(body, &e); resp.StatusCode != http.StatusServiceUnavailable || e.Error.Code != "busy" {
		t.Fatalf("over the budget: %s %s, want 503 busy", resp.Status, body)
	}
}
