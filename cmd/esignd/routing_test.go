package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"esign/internal/extverify"
)

// TestDaemonRouting routes one memo through three officials, each step
// over HTTP as an e-Saraban system would: fields first, then each official
// signs their own field. After every step pdfsig and our verifier process
// must find every signature valid.
func TestDaemonRouting(t *testing.T) {
	bin := buildDaemon(t)
	dataDir := t.TempDir()
	d := startDaemon(t, bin, dataDir)
	key := d.key(t, "dev-api-key")
	nss := extverify.NSSDBFromPEM(t, filepath.Join(dataDir, "pki", "root.pem"))
	doc, _ := os.ReadFile("../../testdata/corpus/memo-libreoffice.pdf")

	fields := `[{"name":"drafter","page":1,"rect":[60,60,200,120]},
	            {"name":"director","page":1,"rect":[220,60,360,120]},
	            {"name":"secretary","page":1,"rect":[380,60,520,120]}]`
	status, _, out := d.post(t, "/api/v1/fields", key, doc, map[string]string{"fields": fields})
	if status != http.StatusOK {
		t.Fatalf("fields: %d %s", status, out)
	}
	doc = out

	steps := []map[string]string{
		{"signer": "dev-official", "field": "drafter", "certify": "2", "lock": "true", "level": "B-LT", "reason": "ผู้ร่าง", "doc_number": "นร 0105/77"},
		{"signer": "dev-director", "field": "director", "activation": "123456", "lock": "true", "level": "B-LT", "reason": "เห็นชอบ", "visible": "true"},
		{"signer": "dev-registrar", "field": "secretary", "lock": "true", "level": "B-LTA", "reason": "อนุมัติ"},
	}
	for i, step := range steps {
		status, hdr, out := d.sign(t, key, doc, step)
		if status != http.StatusOK {
			t.Fatalf("step %d (%s): %d %s", i+1, step["signer"], status, out)
		}
		if hdr.Get("X-Esign-Field") != step["field"] {
			t.Errorf("step %d signed field %q", i+1, hdr.Get("X-Esign-Field"))
		}
		doc = out
		path := filepath.Join(t.TempDir(), "memo.pdf")
		os.WriteFile(path, doc, 0o644)
		signed := 0
		for _, s := range extverify.PDFSig(t, nss, path) {
			if !s.Signed || s.SubFilter != "ETSI.CAdES.detached" {
				continue
			}
			signed++
			if !s.Valid || !s.Trusted {
				t.Errorf("step %d: pdfsig on %s: %s / %s", i+1, s.Field, s.Validation, s.CertStatus)
			}
		}
		if signed != i+1 {
			t.Errorf("step %d: pdfsig sees %d signatures", i+1, signed)
		}
		status, rep := d.verify(t, doc)
		var r struct {
			Document struct {
				Indication string `json:"indication"`
			} `json:"document"`
			Signatures []struct {
				Field, Kind, Indication string
				ModifiedAfter           bool   `json:"modified_after"`
				Certification           string `json:"certification"`
			} `json:"signatures"`
		}
		if status != http.StatusOK || json.Unmarshal(rep, &r) != nil || r.Document.Indication != "TOTAL-PASSED" {
			t.Fatalf("step %d: verifier %d %s", i+1, status, rep)
		}
		for _, s := range r.Signatures {
			if s.Indication != "TOTAL-PASSED" || s.ModifiedAfter {
				t.Errorf("step %d: %s %s modified_after=%v", i+1, s.Field, s.Indication, s.ModifiedAfter)
			}
		}
		if r.Signatures[0].Certification != "2" {
			t.Errorf("the first signature certifies with %q", r.Signatures[0].Certification)
		}
	}
	// The director signed visibly into the field: the Thai name and
	// position are on the page, drawn with an embedded font subset.
	path := filepath.Join(t.TempDir(), "final.pdf")
	os.WriteFile(path, doc, 0o644)
	text, err := exec.Command("pdftotext", "-x", "220", "-y", "600", "-W", "160", "-H", "200", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v %s", err, text)
	}
	for _, want := range []string{"นายสมชาย รักชาติ", "ผู้อำนวยการกองกลาง", "2569"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("the director's field does not show %q:\n%s", want, text)
		}
	}
	fonts, _ := exec.Command("pdffonts", path).CombinedOutput()
	if !strings.Contains(string(fonts), "+Laksaman") || !strings.Contains(string(fonts), "CID TrueType") {
		t.Errorf("no embedded Laksaman subset:\n%s", fonts)
	}
}
