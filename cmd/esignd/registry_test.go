package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"esign/registry"
)

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
