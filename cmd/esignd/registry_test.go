package main

import (
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
