package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/internal/extverify"
	"esign/registry"
)

// TestTranscriptRegistry: a PDF/A-3 transcript signed at B-LTA with its
// XML attached and a QR code, through the real daemon in development
// mode. The answer names the document, the QR code decodes to its
// verification URL, the attachment comes out byte for byte, pdfsig
// passes it; the second development client (dev-api-key-2) can neither
// see nor revoke it, the first revokes it once, and the audit log
// verifies. The second client's own signing with dev-registrar is
// checked too: the contract's dev seed lets it.
func TestTranscriptRegistry(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key, key2 := d.key(t, "dev-api-key"), d.key(t, "dev-api-key-2")
	pdf, err := os.ReadFile("../../testdata/corpus/transcript-libreoffice-pdfa3b.pdf")
	if err != nil {
		t.Fatal(err)
	}
	xml := []byte(`<?xml version="1.0" encoding="UTF-8"?><Transcript><StudentID>6401234567</StudentID><Name>สมหญิง</Name></Transcript>`)

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "transcript.pdf")
	fw.Write(pdf)
	aw, _ := mw.CreateFormFile("attachment", "transcript.xml")
	aw.Write(xml)
	for k, v := range map[string]string{"signer": "dev-registrar", "level": "B-LTA", "qr": "true", "label": "6401234567",
		"attachment_description": "ใบแสดงผลการเรียน"} {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/v1/sign", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("sign: %d %s\n%s", resp.StatusCode, out, d.log)
	}
	id := resp.Header.Get("X-Esign-Document-Id")
	verifyURL := resp.Header.Get("X-Esign-Verify-URL")
	if !registry.ValidID(id) || verifyURL != "http://"+d.verifyAddr+"/d/"+id {
		t.Fatalf("document ID %q, verify URL %q", id, verifyURL)
	}
	dir := t.TempDir()
	signed := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(signed, out, 0o600); err != nil {
		t.Fatal(err)
	}

	// dev-api-key-2's client may sign with dev-registrar, registered.
	if status, hdr, body := d.sign(t, key2, pdf, map[string]string{"signer": "dev-registrar", "level": "B-B", "register": "true"}); status != 200 ||
		!registry.ValidID(hdr.Get("X-Esign-Document-Id")) {
		t.Errorf("sign with dev-api-key-2: %d %s", status, body)
	}

	// External tools: pdfsig, qpdf's attachment, zbarimg's QR code.
	nss := extverify.NSSDBFromPEM(t, filepath.Join(dataDir, "pki", "root.pem"))
	if sigs := extverify.PDFSig(t, nss, signed); len(sigs) == 0 || !sigs[0].Valid || !sigs[0].Trusted {
		t.Errorf("pdfsig: %+v", sigs)
	}
	if got, err := exec.Command("qpdf", "--show-attachment=transcript.xml", signed).Output(); err != nil || !bytes.Equal(got, xml) {
		t.Errorf("qpdf --show-attachment: %v: %q", err, got)
	}
	png := filepath.Join(dir, "page")
	if b, err := exec.Command("pdftoppm", "-r", "200", "-f", "1", "-l", "1", "-singlefile", "-png", signed, png).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, b)
	}
	if b, err := exec.Command("zbarimg", "-q", "--raw", png+".png").Output(); err != nil || strings.TrimSpace(string(b)) != verifyURL {
		t.Errorf("zbarimg: %v: %q, want %q", err, b, verifyURL)
	}

	do := func(method, path, key, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, d.base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		json.NewDecoder(resp.Body).Decode(&v)
		return resp.StatusCode, v
	}
	path := "/api/v1/documents/" + id
	// dev-api-key issued it; dev-api-key-2 is another client.
	if status, v := do("GET", path, key, ""); status != 200 || v["status"] != "valid" || v["label"] != "6401234567" || v["issuer"] == "" {
		t.Fatalf("GET by the issuer: %d %v", status, v)
	}
	if status, _ := do("GET", path, key2, ""); status != 404 {
		t.Errorf("GET by another client: %d, want 404", status)
	}
	if status, _ := do("POST", path+"/revoke", key2, `{"reason":"x"}`); status != 404 {
		t.Errorf("revoke by another client: %d, want 404", status)
	}
	if status, v := do("POST", path+"/revoke", key, `{"reason":"แก้ไขผลการเรียน"}`); status != 200 || v["status"] != "revoked" || v["revoked_at"] == nil {
		t.Fatalf("revoke by the issuer: %d %v", status, v)
	}
	if status, _ := do("POST", path+"/revoke", key, `{"reason":"again"}`); status != 409 {
		t.Errorf("second revocation: %d, want 409", status)
	}

	// The operator's CLI sees the revocation in a log that verifies.
	esign := filepath.Join(filepath.Dir(bin), "esign")
	env := append(os.Environ(), "ESIGN_DATA_DIR="+dataDir)
	cmd := exec.Command(esign, "audit", "list", "--limit", "1000")
	cmd.Env = env
	list, err := cmd.Output()
	if err != nil || !strings.Contains(string(list), `"action":"revoke","document_id":"`+id+`"`) {
		t.Errorf("esign audit list: %v\n%s", err, list)
	}
	cmd = exec.Command(esign, "audit", "verify")
	cmd.Env = env
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("esign audit verify: %v\n%s", err, b)
	}
}

// TestBatchTranscriptRegistry: batch documents take the attachment, QR
// and registry fields per document; each signed one is registered, and
// the listing, the document's headers and manifest.json name its ID and
// verification URL. A PDF/A-2b document with an attachment fails alone
// with /sign's 422 attachment_forbidden.
func TestBatchTranscriptRegistry(t *testing.T) {
	bin := buildDaemon(t)
	d := startDaemon(t, bin, t.TempDir())
	c := &batchClient{base: d.base, key: d.key(t, "dev-api-key"), http: http.DefaultClient}
	transcript, _ := os.ReadFile("../../testdata/corpus/transcript-libreoffice-pdfa3b.pdf")
	pdfa2, _ := os.ReadFile("../../testdata/corpus/memo-libreoffice-pdfa2b.pdf")
	id := c.mustCreate(t, map[string]string{"signer": "dev-registrar", "level": "B-LT", "register": "true"})

	put := func(ref string, pdf []byte, fields map[string]string, xml string) httpAnswer {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", ref+".pdf")
		fw.Write(pdf)
		if xml != "" {
			aw, _ := mw.CreateFormFile("attachment", ref+".xml")
			io.WriteString(aw, xml)
		}
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		mw.Close()
		return c.do(t, http.MethodPut, "/api/v1/batches/"+id+"/documents/"+ref, mw.FormDataContentType(), body.Bytes())
	}
	xml := `<?xml version="1.0"?><Transcript><StudentID>6401</StudentID></Transcript>`
	ids := map[string]string{}
	for _, tc := range []struct {
		ref    string
		pdf    []byte
		fields map[string]string
		xml    string
	}{
		{"s-6401", transcript, map[string]string{"qr": "true", "label": "6401", "attachment_relationship": "Source"}, xml},
		{"s-6402", transcript, map[string]string{"label": "6402"}, ""},
		{"pdfa2", pdfa2, nil, xml},
	} {
		a := put(tc.ref, tc.pdf, tc.fields, tc.xml)
		var doc struct {
			DocumentID string `json:"document_id"`
			VerifyURL  string `json:"verify_url"`
		}
		decode(t, "put "+tc.ref, a, &doc)
		if a.status != http.StatusCreated || !registry.ValidID(doc.DocumentID) || doc.VerifyURL != "http://"+d.verifyAddr+"/d/"+doc.DocumentID {
			t.Fatalf("put %s: %s", tc.ref, a)
		}
		ids[tc.ref] = doc.DocumentID
		// The same document again keeps its ID.
		if again := put(tc.ref, tc.pdf, tc.fields, tc.xml); again.status != http.StatusOK || !strings.Contains(string(again.body), doc.DocumentID) {
			t.Fatalf("put %s again: %s", tc.ref, again)
		}
	}
	if a := put("bad", transcript, map[string]string{"qr_page": "2"}, ""); a.status != 400 || a.code() != "bad_request" {
		t.Errorf("qr_page without qr: %s", a)
	}
	c.closeBatch(t, id)
	st := c.waitDone(t, id, 3*time.Minute)
	if st.Signed != 2 || st.Failed != 1 {
		t.Fatalf("status %+v, want 2 signed and 1 failed", st)
	}
	if a := c.document(t, id, "pdfa2"); a.status != 422 || a.code() != "attachment_forbidden" {
		t.Errorf("PDF/A-2b with an attachment: %s", a)
	}
	for _, ref := range []string{"s-6401", "s-6402"} {
		a := c.document(t, id, ref)
		if a.status != 200 || a.hdr.Get("X-Esign-Document-Id") != ids[ref] || a.hdr.Get("X-Esign-Verify-URL") != "http://"+d.verifyAddr+"/d/"+ids[ref] {
			t.Errorf("GET %s: %d, headers %v", ref, a.status, a.hdr)
		}
		var doc map[string]any
		if status, _ := func() (int, any) {
			req, _ := http.NewRequest("GET", d.base+"/api/v1/documents/"+ids[ref], nil)
			req.Header.Set("Authorization", "Bearer "+c.key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			json.NewDecoder(resp.Body).Decode(&doc)
			return resp.StatusCode, nil
		}(); status != 200 || doc["status"] != "valid" || doc["label"] != strings.TrimPrefix(ref, "s-") {
			t.Errorf("registry of %s: %d %v", ref, status, doc)
		}
	}
	zipped := c.results(t, id)
	zr, err := zip.NewReader(bytes.NewReader(zipped.body), int64(len(zipped.body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name != "manifest.json" {
			continue
		}
		r, _ := f.Open()
		var m struct {
			Documents []struct {
				Ref        string `json:"ref"`
				DocumentID string `json:"document_id"`
				VerifyURL  string `json:"verify_url"`
			} `json:"documents"`
		}
		err := json.NewDecoder(r).Decode(&m)
		r.Close()
		if err != nil || len(m.Documents) != 3 {
			t.Fatalf("manifest: %v %+v", err, m)
		}
		for _, doc := range m.Documents {
			if doc.DocumentID != ids[doc.Ref] || doc.VerifyURL != "http://"+d.verifyAddr+"/d/"+ids[doc.Ref] {
				t.Errorf("manifest entry %+v", doc)
			}
		}
	}
}
