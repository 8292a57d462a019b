package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestBatchRenewal: an esignd with ESIGN_RENEW_INTERVAL and a
// ESIGN_RENEW_WITHIN longer than any certificate lives renews the batch
// outputs it keeps on its own; the batch API then serves the renewed
// files, with their digests in the listing and the results' manifest,
// and the public verifier passes them at B-LTA.
func TestBatchRenewal(t *testing.T) {
	bin := buildDaemon(t)
	d := launchDaemon(t, bin, t.TempDir(), freeAddr(t), freeAddr(t),
		append(verifierUnlimited, "ESIGN_BATCH_WORKERS=2", "ESIGN_RENEW_INTERVAL=1s", "ESIGN_RENEW_WITHIN=876000h")...)
	c := newBatchClient(d, d.key(t, "dev-api-key"))
	inputs := batchInputs(t, 2)
	id := c.mustCreate(t, map[string]string{"signer": "dev-registrar", "level": "B-T"})
	c.putAll(t, id, inputs)
	c.closeBatch(t, id)
	c.waitDone(t, id, 2*time.Minute)

	type renewedDoc struct {
		Ref          string     `json:"ref"`
		OutputSHA256 string     `json:"output_sha256"`
		Renewals     int        `json:"renewals"`
		RenewedAt    *time.Time `json:"renewed_at"`
	}
	list := func() []renewedDoc {
		var page struct {
			Documents []renewedDoc `json:"documents"`
		}
		decode(t, "list documents", c.do(t, http.MethodGet, "/api/v1/batches/"+id+"/documents?limit=200", "", nil), &page)
		return page.Documents
	}
	waitUntil(t, "every document renewed", 2*time.Minute, func() bool {
		for _, doc := range list() {
			if doc.Renewals < 1 {
				return false
			}
		}
		return true
	})
	// Renewal goes on every second: what is compared below is read once.
	res := c.results(t, id)
	zr, err := zip.NewReader(bytes.NewReader(res.body), int64(len(res.body)))
	if res.status != http.StatusOK || err != nil {
		t.Fatalf("results.zip: %d %v", res.status, err)
	}
	files := map[string][]byte{}
	var manifest struct {
		Documents []renewedDoc `json:"documents"`
	}
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == "manifest.json" {
			if err := json.Unmarshal(b, &manifest); err != nil {
				t.Fatal(err)
			}
			continue
		}
		files[f.Name] = b
	}
	for _, doc := range manifest.Documents {
		data := files[doc.Ref+".pdf"]
		if sha256Hex(data) != doc.OutputSHA256 || doc.Renewals < 1 || doc.RenewedAt == nil {
			t.Errorf("%s: zip file %s, manifest %+v", doc.Ref, sha256Hex(data), doc)
		}
		var in []byte
		for _, x := range inputs {
			if x.ref == doc.Ref {
				in = x.pdf
			}
		}
		if !bytes.HasPrefix(data, in) {
			t.Errorf("%s: the renewed file does not start with the input", doc.Ref)
		}
		rep := d.verifyReport(t, data)
		if rep.Document.Indication != "TOTAL-PASSED" {
			t.Errorf("%s: verifier says %+v", doc.Ref, rep.Document)
		}
	}
	if len(manifest.Documents) != len(inputs) {
		t.Fatalf("manifest lists %d documents", len(manifest.Documents))
	}
}
