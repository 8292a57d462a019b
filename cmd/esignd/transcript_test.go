package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
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
	"esign/pdf"
	"esign/registry"
)

// transcriptReport is the part of a verification report these tests read.
type transcriptReport struct {
	Document struct {
		Indication string `json:"indication"`
	} `json:"document"`
	Signatures []struct {
		Kind           string `json:"kind"`
		Indication     string `json:"indication"`
		RevisionLength int64  `json:"revision_length"`
		RevisionSHA256 string `json:"revision_sha256"`
	} `json:"signatures"`
	Attachments []struct {
		Name, MIME, Relationship, SHA256 string
		Size                             int64
		CoveredBy                        []string `json:"covered_by"`
	} `json:"attachments"`
	Registry *struct {
		ID        string     `json:"id"`
		Status    string     `json:"status"`
		IssuedAt  *time.Time `json:"issued_at"`
		RevokedAt *time.Time `json:"revoked_at"`
		Reason    string     `json:"reason"`
	} `json:"registry"`
}

// signTranscript posts the transcript with its XML as the attachment part.
func (d *daemon) signTranscript(t *testing.T, key string, pdfData, xml []byte, fields map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fw, _ := mw.CreateFormFile("file", "transcript.pdf")
	fw.Write(pdfData)
	if xml != nil {
		aw, _ := mw.CreateFormFile("attachment", "transcript.xml")
		aw.Write(xml)
	}
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/v1/sign", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, out
}

func (d *daemon) revoke(t *testing.T, key, id, reason string) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"reason": reason})
	req, _ := http.NewRequest(http.MethodPost, d.base+"/api/v1/documents/"+id+"/revoke", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// issuerGet is GET /api/v1/documents/{id} on the signing service.
func (d *daemon) issuerGet(t *testing.T, key, id string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, d.base+"/api/v1/documents/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (d *daemon) verifyReport(t *testing.T, pdfData []byte) transcriptReport {
	t.Helper()
	status, body := d.verify(t, pdfData)
	if status != http.StatusOK {
		t.Fatalf("verify: %d %s", status, body)
	}
	var rep transcriptReport
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatalf("verify report: %v\n%s", err, body)
	}
	return rep
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return out
}

// TestTranscriptEndToEnd is issue #11's walk through both daemons: a
// PDF/A-3 transcript signed at B-LTA with its XML attached and a QR code,
// checked with tools we did not write, looked up through the URL the code
// carries, then revoked by its issuer and seen revoked by recipients.
func TestTranscriptEndToEnd(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key, key2 := d.key(t, "dev-api-key"), d.key(t, "dev-api-key-2")
	in, err := os.ReadFile("../../testdata/corpus/transcript-libreoffice-pdfa3b.pdf")
	if err != nil {
		t.Fatal(err)
	}
	xml, err := os.ReadFile("../../testdata/transcript/transcript-sample.xml")
	if err != nil {
		t.Fatal(err)
	}
	status, hdr, out := d.signTranscript(t, key, in, xml, map[string]string{
		"signer": "dev-registrar", "level": "B-LTA", "qr": "true", "label": "6401234567",
		"attachment_description": "ผลการศึกษา (XML)",
	})
	if status != http.StatusOK {
		t.Fatalf("sign: %d %s", status, out)
	}
	id := hdr.Get("X-Esign-Document-Id")
	wantURL := "http://" + d.verifyAddr + "/d/" + id
	if !registry.ValidID(id) || hdr.Get("X-Esign-Verify-URL") != wantURL {
		t.Fatalf("document ID %q, verify URL %q (want %q)", id, hdr.Get("X-Esign-Verify-URL"), wantURL)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("qpdf attachments", func(t *testing.T) {
		list := string(runTool(t, "qpdf", "--list-attachments", path))
		if !strings.Contains(list, "transcript.xml") {
			t.Fatalf("qpdf --list-attachments:\n%s", list)
		}
		got := runTool(t, "qpdf", "--show-attachment=transcript.xml", path)
		if !bytes.Equal(got, xml) {
			t.Fatalf("qpdf --show-attachment gave %d bytes, want the %d sent", len(got), len(xml))
		}
		if err := extverify.QPDFCheck(path); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("pdfsig", func(t *testing.T) {
		nss := extverify.NSSDBFromPEM(t, filepath.Join(dataDir, "pki", "root.pem"))
		sigs := extverify.PDFSig(t, nss, path)
		if len(sigs) < 2 {
			t.Fatalf("pdfsig found %d signatures, want the signature and the document timestamp", len(sigs))
		}
		// poppler checks the CAdES signature; it leaves the RFC 3161
		// document timestamp unverified, which openssl ts covers elsewhere.
		if !sigs[0].Valid || !sigs[0].Trusted {
			t.Errorf("pdfsig: the signature is not valid and trusted: %+v", sigs[0])
		}
		// The check rejects a changed copy: one byte of the attached
		// file's stream, inside the signed range.
		tampered := bytes.Clone(out)
		at := bytes.Index(tampered, []byte("/Type/EmbeddedFile"))
		if at < 0 {
			at = bytes.Index(tampered, []byte("/EmbeddedFile"))
		}
		s := bytes.Index(tampered[at:], []byte("stream")) + at + len("stream\n") + 10
		tampered[s] ^= 0x01
		tp := filepath.Join(dir, "tampered.pdf")
		os.WriteFile(tp, tampered, 0o644)
		if ts := extverify.PDFSig(t, nss, tp); len(ts) == 0 || ts[0].Valid {
			t.Fatalf("pdfsig accepted a copy with a changed attachment: %+v", ts)
		}
	})

	t.Run("PDF/A-3", func(t *testing.T) {
		checkPDFA3Transcript(t, in, out)
	})

	var qrURL string
	t.Run("QR code", func(t *testing.T) {
		png := filepath.Join(dir, "page")
		runTool(t, "pdftoppm", "-r", "300", "-f", "1", "-l", "1", "-png", "-singlefile", path, png)
		got := strings.TrimSpace(string(runTool(t, "zbarimg", "--raw", "-q", png+".png")))
		if got != wantURL {
			t.Fatalf("zbarimg read %q, want %q", got, wantURL)
		}
		qrURL = got
		// The unsigned input has no code: zbarimg finds nothing.
		ppath := filepath.Join(dir, "unsigned.pdf")
		os.WriteFile(ppath, in, 0o644)
		runTool(t, "pdftoppm", "-r", "300", "-f", "1", "-l", "1", "-png", "-singlefile", ppath, filepath.Join(dir, "unsigned"))
		if err := exec.Command("zbarimg", "--raw", "-q", filepath.Join(dir, "unsigned.png")).Run(); err == nil {
			t.Fatal("zbarimg found a code on the unsigned page")
		}
	})
	if qrURL == "" {
		t.Fatal("no URL from the QR code")
	}

	t.Run("valid", func(t *testing.T) {
		status, page := httpGet(t, qrURL)
		if status != http.StatusOK || !bytes.Contains(page, []byte("เอกสารยังมีผลใช้ได้")) {
			t.Fatalf("GET %s: %d\n%.2000s", qrURL, status, page)
		}
		if bytes.Contains(page, []byte("6401234567")) {
			t.Error("the public page shows the issuer's label")
		}
		status, body := httpGet(t, "http://"+d.verifyAddr+"/api/v1/documents/"+id)
		var doc map[string]any
		if status != http.StatusOK || json.Unmarshal(body, &doc) != nil || doc["status"] != "valid" || doc["id"] != id {
			t.Fatalf("GET /api/v1/documents/%s: %d %s", id, status, body)
		}
		rep := d.verifyReport(t, out)
		if rep.Document.Indication != "TOTAL-PASSED" || rep.Registry == nil || rep.Registry.ID != id || rep.Registry.Status != "valid" {
			t.Fatalf("report: %s, registry %+v", rep.Document.Indication, rep.Registry)
		}
		// The signed revision the registry names is the one before the
		// DSS and document timestamp that B-LTA appends.
		sig := rep.Signatures[0]
		sum := sha256.Sum256(out[:sig.RevisionLength])
		if sig.RevisionLength >= int64(len(out)) || hex.EncodeToString(sum[:]) != sig.RevisionSHA256 {
			t.Fatalf("signed revision of %d bytes (file %d), digest %s", sig.RevisionLength, len(out), sig.RevisionSHA256)
		}
		if len(rep.Attachments) != 1 {
			t.Fatalf("attachments: %+v", rep.Attachments)
		}
		a := rep.Attachments[0]
		xsum := sha256.Sum256(xml)
		if a.Name != "transcript.xml" || a.MIME != "application/xml" || a.Relationship != "Data" ||
			a.Size != int64(len(xml)) || a.SHA256 != hex.EncodeToString(xsum[:]) || len(a.CoveredBy) == 0 {
			t.Fatalf("attachment: %+v", a)
		}
	})

	t.Run("revoke", func(t *testing.T) {
		// The issuer's own view on the signing service has the label;
		// another client gets the answer an unknown ID gets.
		if status, body := d.issuerGet(t, key, id); status != http.StatusOK || !bytes.Contains(body, []byte(`"label":"6401234567"`)) {
			t.Fatalf("GET by the issuer: %d %s", status, body)
		}
		if status, body := d.issuerGet(t, key2, id); status != http.StatusNotFound {
			t.Fatalf("GET by another client: %d %s", status, body)
		}
		// The first client issued it; the second may sign with the same
		// credential but may not revoke what the first issued.
		if status, body := d.revoke(t, key2, id, "ลองเพิกถอนโดยผู้อื่น"); status != http.StatusNotFound {
			t.Fatalf("revoke by another client: %d %s", status, body)
		}
		if status, body := d.revoke(t, key, id, "แก้ไขผลการเรียน"); status != http.StatusOK {
			t.Fatalf("revoke by the issuer: %d %s", status, body)
		}
		if status, body := d.revoke(t, key, id, "again"); status != http.StatusConflict {
			t.Fatalf("second revoke: %d %s", status, body)
		}
		rep := d.verifyReport(t, out)
		if rep.Registry == nil || rep.Registry.Status != "revoked" || rep.Registry.Reason != "แก้ไขผลการเรียน" || rep.Registry.RevokedAt == nil {
			t.Fatalf("registry after revoking: %+v", rep.Registry)
		}
		// The signature itself is as valid as before: the JSON keeps its
		// indication and adds the issuer's word.
		if rep.Signatures[0].Indication != "TOTAL-PASSED" {
			t.Errorf("signature indication %s after revoking", rep.Signatures[0].Indication)
		}
		status, page := httpGet(t, qrURL)
		if status != http.StatusOK || !bytes.Contains(page, []byte("ผู้ออกเอกสารได้เพิกถอนเอกสารนี้")) ||
			!bytes.Contains(page, []byte("แก้ไขผลการเรียน")) || bytes.Contains(page, []byte("เอกสารยังมีผลใช้ได้")) {
			t.Fatalf("GET %s after revoking: %d\n%.2000s", qrURL, status, page)
		}
		// The operator sees the revocation in an audit log that verifies.
		esign := filepath.Join(filepath.Dir(bin), "esign")
		cmd := exec.Command(esign, "audit", "list", "--limit", "1000")
		cmd.Env = append(os.Environ(), "ESIGN_DATA_DIR="+dataDir)
		list, err := cmd.Output()
		if err != nil || !strings.Contains(string(list), `"action":"revoke","document_id":"`+id+`"`) {
			t.Errorf("esign audit list: %v\n%s", err, list)
		}
		cmd = exec.Command(esign, "audit", "verify")
		cmd.Env = append(os.Environ(), "ESIGN_DATA_DIR="+dataDir)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("esign audit verify: %v\n%s", err, b)
		}
		unknown, _ := registry.NewID()
		status, page = httpGet(t, "http://"+d.verifyAddr+"/d/"+unknown)
		if status != http.StatusNotFound || bytes.Contains(page, []byte("ผู้ออกเอกสารได้เพิกถอนเอกสารนี้")) {
			t.Fatalf("unknown ID: %d\n%.1000s", status, page)
		}
	})

	t.Run("second client registers", func(t *testing.T) {
		status, hdr, body := d.sign(t, key2, in, map[string]string{"signer": "dev-registrar", "level": "B-B", "register": "true"})
		if status != http.StatusOK || !registry.ValidID(hdr.Get("X-Esign-Document-Id")) || hdr.Get("X-Esign-Document-Id") == id {
			t.Fatalf("sign with dev-api-key-2: %d %s", status, body)
		}
	})

	t.Run("registry after extension", func(t *testing.T) {
		// Signed at B-T and registered; then extended twice, each time a
		// later incremental update with a DSS and a document timestamp.
		// The registry still knows it by the revision the signature covers.
		status, hdr, signed := d.sign(t, key, in, map[string]string{"signer": "dev-registrar", "level": "B-T", "register": "true"})
		if status != http.StatusOK {
			t.Fatalf("sign: %d %s", status, signed)
		}
		regID := hdr.Get("X-Esign-Document-Id")
		doc := signed
		for i := range 2 {
			status, _, out := d.post(t, "/api/v1/extend", key, doc, map[string]string{"level": "B-LTA"})
			if status != http.StatusOK || len(out) <= len(doc) || !bytes.Equal(out[:len(doc)], doc) {
				t.Fatalf("extension %d: %d %.300s", i+1, status, out)
			}
			doc = out
		}
		rep := d.verifyReport(t, doc)
		if rep.Document.Indication != "TOTAL-PASSED" || rep.Registry == nil || rep.Registry.ID != regID || rep.Registry.Status != "valid" {
			t.Fatalf("after extension: %s, registry %+v", rep.Document.Indication, rep.Registry)
		}
		// A different document does not match it: the unsigned input.
		if rep := d.verifyReport(t, in); rep.Registry != nil {
			t.Fatalf("the unsigned input matched the registry: %+v", rep.Registry)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		pdfa2, _ := os.ReadFile("../../testdata/corpus/memo-libreoffice-pdfa2b.pdf")
		status, _, body := d.signTranscript(t, key2, pdfa2, xml, map[string]string{"signer": "dev-registrar", "level": "B-B"})
		if status != http.StatusUnprocessableEntity {
			t.Fatalf("PDF/A-2b with an attachment: %d %s", status, body)
		}
		errorCode(t, body)
		status, _, body = d.signTranscript(t, key2, out, xml, map[string]string{"signer": "dev-registrar", "level": "B-B"})
		if status != http.StatusConflict {
			t.Fatalf("attachment on a signed document: %d %s", status, body)
		}
		errorCode(t, body)
	})
}

// checkPDFA3Transcript asserts, rule by rule, what ISO 19005-3 asks of
// the embedded file and of what the signature's revision changed, since
// veraPDF is not packaged here.
func checkPDFA3Transcript(t *testing.T, in, out []byte) {
	t.Helper()
	before, err := pdf.NewReader(bytes.NewReader(in), int64(len(in)), nil)
	if err != nil {
		t.Fatal(err)
	}
	after, err := pdf.NewReader(bytes.NewReader(out), int64(len(out)), nil)
	if err != nil {
		t.Fatal(err)
	}
	catB, _, _ := before.Catalog()
	catA, _, _ := after.Catalog()
	for _, k := range []pdf.Name{"Metadata", "OutputIntents"} {
		if catA[k] == nil || !bytes.Equal(pdf.AppendObject(nil, catA[k]), pdf.AppendObject(nil, catB[k])) {
			t.Errorf("catalog /%s changed or lost", k)
		}
	}
	af, err := after.Array(catA["AF"])
	if err != nil || len(af) != 1 {
		t.Fatalf("catalog /AF: %v, %v", af, err)
	}
	if _, ok := af[0].(pdf.Ref); !ok {
		t.Error("the file specification in /AF is not an indirect object")
	}
	spec, _ := after.Dict(af[0])
	for _, k := range []pdf.Name{"F", "UF", "AFRelationship", "EF"} {
		if spec[k] == nil {
			t.Errorf("file specification lacks /%s (ISO 19005-3 §6.8)", k)
		}
	}
	if spec["AFRelationship"] != pdf.Name("Data") {
		t.Errorf("/AFRelationship %v", spec["AFRelationship"])
	}
	ef, _ := after.Dict(spec["EF"])
	st, _ := after.Resolve(ef["F"])
	stream, ok := st.(*pdf.Stream)
	if !ok {
		t.Fatalf("/EF /F is %T", st)
	}
	if stream.Dict["Subtype"] != pdf.Name("application/xml") {
		t.Errorf("embedded file /Subtype %v", stream.Dict["Subtype"])
	}
	params, _ := after.Dict(stream.Dict["Params"])
	if params["ModDate"] == nil {
		t.Error("embedded file /Params lacks /ModDate")
	}
	names, _ := after.Dict(catA["Names"])
	if names["EmbeddedFiles"] == nil {
		t.Error("no /Names /EmbeddedFiles")
	}
}
