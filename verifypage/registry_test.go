package verifypage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"esign/registry"
	"esign/signer"
	"esign/store"
	"esign/verify"
	"esign/verifyapi"
)

// Markup planted in every string the registry and an attachment give the
// page; each would set window.__pwned if it ever ran.
const (
	evilAttachment = `<script>window.__pwned=1</script>.xml`
	evilIssuer     = `<script>window.__pwned=2</script> มหาวิทยาลัย`
	evilRevocation = `<script>window.__pwned=3</script> แก้ไขผลการเรียน`
	evilLabel      = `<script>window.__pwned=4</script>`
)

var transcriptXML = []byte(`<?xml version="1.0"?><transcript><gpa>3.91</gpa></transcript>`)

// withAttachment embeds data under name with qpdf, before signing.
func withAttachment(t *testing.T, in []byte, name string, data []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	src, att, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "att.xml"), filepath.Join(dir, "out.pdf")
	os.WriteFile(src, in, 0o600)
	os.WriteFile(att, data, 0o600)
	cmd := exec.Command("qpdf", src, "--add-attachment", att, "--filename="+name, "--mimetype=application/xml", "--", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 3 {
			t.Fatalf("qpdf: %v\n%s", err, b)
		}
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// regFixture is a registry in a SQLite store the way the signing service
// writes it, and a verifier that opens it read-only.
type regFixture struct {
	*fixture
	validID, revokedID string
	ro                 *store.Store
	srv                string
}

func newRegFixture(t *testing.T) *regFixture {
	f := newFixture(t)
	in, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "transcript-chromium.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	f.put(t, "attached", sign(t, f.env.Signer, withAttachment(t, in, evilAttachment, transcriptXML), f.env.Creds["dev-official"], signer.Options{}))
	ctx := context.Background()
	dir := t.TempDir()
	rw, err := store.Open(ctx, store.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := registry.Open(ctx, rw, registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rf := &regFixture{fixture: f}
	record := func(file string) string {
		rep, err := verify.Verify(ctx, bytes.NewReader(f.data(t, file)), int64(len(f.data(t, file))), f.vc)
		if err != nil {
			t.Fatal(err)
		}
		sum, _ := hex.DecodeString(rep.Signatures[0].RevisionSHA256)
		id, _ := registry.NewID()
		if _, err := reg.Record(ctx, nil, registry.Document{ID: id, Client: "dev", Credential: "dev-official",
			Issuer: evilIssuer, Label: evilLabel, RevisionSHA256: sum}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	rf.validID = record("attached")
	rf.revokedID = record("valid")
	if _, err := reg.Revoke(ctx, nil, rf.revokedID, "dev", evilRevocation); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	rf.ro, err = store.Open(ctx, store.Options{DataDir: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rf.ro.Close() })
	ror, err := registry.OpenReadOnly(ctx, rf.ro)
	if err != nil {
		t.Fatal(err)
	}
	rf.srv = f.server(t, verifyapi.Config{RatePerMinute: 6000, Burst: 1000, Registry: ror}).URL
	return rf
}

func postVerify(t *testing.T, url string, data []byte) (int, map[string]any) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "doc.pdf")
	fw.Write(data)
	mw.Close()
	resp, err := http.Post(url+"/api/v1/verify", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// failingRegistry is a registry whose database is down.
type failingRegistry struct{}

func (failingRegistry) Get(context.Context, string) (*registry.Document, error) {
	return nil, errors.New("connection refused")
}
func (failingRegistry) ByRevision(context.Context, []byte) (*registry.Document, error) {
	return nil, errors.New("connection refused")
}

// TestRegistry: the report names the registered document of a signed
// revision (valid, revoked, none), a registry that is down makes it
// "unavailable" and never a 5xx, GET /api/v1/documents/{id} and /d/{id}
// answer valid, revoked and unknown IDs differently, the verifier's store
// cannot be written, and in Chromium the registry's strings and an
// attachment's name are text, the upload on /d/{id} is matched to the ID,
// and the attachment and signed-version downloads are the right bytes.
func TestRegistry(t *testing.T) {
	f := newRegFixture(t)

	t.Run("report", func(t *testing.T) {
		status, rep := postVerify(t, f.srv, f.data(t, "valid"))
		reg, _ := rep["registry"].(map[string]any)
		if status != 200 || reg["status"] != "revoked" || reg["id"] != f.revokedID || reg["reason"] != evilRevocation || reg["revoked_at"] == nil {
			t.Errorf("revoked: %d %v", status, reg)
		}
		if doc := rep["document"].(map[string]any); doc["indication"] != string(verify.TotalPassed) {
			t.Errorf("the signatures' indication changed: %v", doc["indication"])
		}
		if _, ok := reg["label"]; ok {
			t.Error("the label is in the report")
		}
		_, rep = postVerify(t, f.srv, f.data(t, "attached"))
		if reg, _ := rep["registry"].(map[string]any); reg["status"] != "valid" || reg["id"] != f.validID || reg["issued_at"] == nil {
			t.Errorf("valid: %v", reg)
		}
		atts, _ := rep["attachments"].([]any)
		if len(atts) != 1 || atts[0].(map[string]any)["name"] != evilAttachment || len(atts[0].(map[string]any)["covered_by"].([]any)) != 1 {
			t.Errorf("attachments: %v", atts)
		}
		if _, rep = postVerify(t, f.srv, f.data(t, "untrusted")); rep["registry"] != nil {
			t.Errorf("unregistered: %v", rep["registry"])
		}
		down := f.server(t, verifyapi.Config{RatePerMinute: 6000, Burst: 1000, Registry: failingRegistry{}}).URL
		status, rep = postVerify(t, down, f.data(t, "valid"))
		if reg, _ := rep["registry"].(map[string]any); status != 200 || reg["status"] != "unavailable" {
			t.Errorf("registry down: %d %v", status, rep["registry"])
		}
		if status, body := get(t, down+"/api/v1/documents/"+f.validID); status != 503 || !strings.Contains(body, `"error"`) {
			t.Errorf("documents, registry down: %d %s", status, body)
		}
		// The upload on /d/{id} is verified all the same, and the page says
		// the registry could not be asked, with the page or without it.
		for _, partial := range []string{"", "&partial=1"} {
			res, body := post(t, down+"/d/"+f.validID+"?lang=th"+partial, "doc.pdf", f.data(t, "valid"))
			if res.StatusCode != 200 || !strings.Contains(body, `id="verdict"`) ||
				!strings.Contains(body, "ยังตรวจสถานะในทะเบียนของผู้ออกเอกสารไม่ได้ในขณะนี้") || strings.Contains(body, `id="match"`) {
				t.Errorf("upload on /d/, registry down (%q): %d\n%s", partial, res.StatusCode, body)
			}
			if partial == "" && !strings.Contains(body, "ยังอ่านทะเบียนเอกสารไม่ได้ในขณะนี้") {
				t.Errorf("the /d/ page does not say the registry cannot be read:\n%s", body)
			}
		}
	})

	t.Run("documents API", func(t *testing.T) {
		status, body := get(t, f.srv+"/api/v1/documents/"+f.revokedID)
		var doc map[string]any
		json.Unmarshal([]byte(body), &doc)
		if status != 200 || doc["status"] != "revoked" || doc["reason"] != evilRevocation || doc["issuer"] != evilIssuer || doc["revoked_at"] == nil || doc["issued_at"] == nil {
			t.Errorf("revoked: %d %s", status, body)
		}
		if strings.Contains(body, "label") || strings.Contains(body, "__pwned=4") {
			t.Errorf("personal data: %s", body)
		}
		status, body = get(t, f.srv+"/api/v1/documents/"+f.validID)
		json.Unmarshal([]byte(body), &doc)
		if status != 200 || doc["status"] != "valid" || doc["id"] != f.validID {
			t.Errorf("valid: %d %s", status, body)
		}
		unknown, _ := registry.NewID()
		for _, id := range []string{unknown, "nope", "..%2F..%2Fetc"} {
			if status, body := get(t, f.srv+"/api/v1/documents/"+id); status != 404 || !strings.Contains(body, `"not_found"`) {
				t.Errorf("%s: %d %s", id, status, body)
			}
		}
	})

	t.Run("d page", func(t *testing.T) {
		status, body := get(t, f.srv+"/d/"+f.validID)
		if status != 200 || !strings.Contains(body, "เอกสารยังมีผลใช้ได้") || strings.Contains(body, "<script>window") || strings.Contains(body, "__pwned=4") {
			t.Errorf("valid: %d", status)
		}
		status, body = get(t, f.srv+"/d/"+f.revokedID)
		if status != 200 || !strings.Contains(body, "ผู้ออกเอกสารได้เพิกถอนเอกสารนี้") || !strings.Contains(body, "&lt;script&gt;window.__pwned=3") {
			t.Errorf("revoked: %d", status)
		}
		unknown, _ := registry.NewID()
		status, body = get(t, f.srv+"/d/"+unknown+"?lang=en")
		if status != 404 || !strings.Contains(body, "No such document in the registry") || strings.Contains(body, "revoked") {
			t.Errorf("unknown: %d", status)
		}
	})

	t.Run("read-only store", func(t *testing.T) {
		err := f.ro.WithTx(context.Background(), func(tx *store.Tx) error {
			_, err := tx.ExecContext(context.Background(), "UPDATE registry_documents SET status = 'valid'")
			return err
		})
		if err == nil {
			t.Fatal("the verifier's store wrote to the registry")
		}
		err = f.ro.WithTx(context.Background(), func(tx *store.Tx) error {
			_, err := tx.ExecContext(context.Background(), "INSERT INTO registry_documents (id) VALUES ('x')")
			return err
		})
		if err == nil {
			t.Fatal("the verifier's store inserted into the registry")
		}
	})

	t.Run("browser", f.testRegistryBrowser)
}

func (f *regFixture) testRegistryBrowser(t *testing.T) {
	ctx := newBrowser(t)
	pwned := func() {
		t.Helper()
		if v := eval[bool](t, ctx, `window.__pwned !== undefined`); v {
			t.Error("markup from the registry or an attachment ran")
		}
	}
	step(t, ctx, "open /d/ revoked", chromedp.Navigate(f.srv+"/d/"+f.revokedID), chromedp.WaitVisible(chromedp.CSS("#doc-status")))
	if got := text(t, ctx, ".doc-reason"); got != strings.Join(strings.Fields(evilRevocation), " ") {
		t.Errorf("reason shown as %q", got)
	}
	if got := text(t, ctx, "#doc-status-title"); got != "ผู้ออกเอกสารได้เพิกถอนเอกสารนี้" {
		t.Errorf("status %q", got)
	}
	pwned()
	checkCSP(t, ctx)
	shot(t, ctx, "registry-revoked-phone", 390, 844, true, true)

	step(t, ctx, "upload on /d/ valid",
		chromedp.Navigate(f.srv+"/d/"+f.validID),
		chromedp.WaitReady(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["attached"]}),
		chromedp.WaitVisible(chromedp.CSS("#match")),
	)
	if got := eval[string](t, ctx, `document.getElementById('match').dataset.match`); got != "yes" {
		t.Errorf("the registered file is not matched: %s", got)
	}
	if got := text(t, ctx, ".doc-issuer"); !strings.Contains(got, "<script>window.__pwned=2</script>") {
		t.Errorf("issuer shown as %q", got)
	}
	if got := text(t, ctx, ".att-name"); got != evilAttachment {
		t.Errorf("attachment name shown as %q", got)
	}
	pwned()
	checkCSP(t, ctx)
	shot(t, ctx, "registry-match-desktop", 1366, 900, false, true)

	save := func(what, css string, want []byte) {
		t.Helper()
		dir := t.TempDir()
		if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
		}); err != nil {
			t.Fatal(err)
		}
		step(t, ctx, "click "+what, chromedp.Click(chromedp.CSS(css)))
		wantSum := sha256.Sum256(want)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if strings.HasSuffix(e.Name(), ".crdownload") {
					continue
				}
				b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
				if sha256.Sum256(b) == wantSum {
					return
				}
			}
		}
		entries, _ := os.ReadDir(dir)
		t.Errorf("%s: no download with the right bytes; %v; page says %q", what, entries, text(t, ctx, "#save-error"))
	}
	save("attachment", ".save-attachment", transcriptXML)
	save("signed version", ".save-revision", f.data(t, "attached"))

	step(t, ctx, "upload another document on /d/",
		chromedp.Navigate(f.srv+"/d/"+f.validID),
		chromedp.WaitReady(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["untrusted"]}),
		chromedp.WaitVisible(chromedp.CSS("#match")),
	)
	if got := eval[string](t, ctx, `document.getElementById('match').dataset.match`); got != "no" {
		t.Errorf("another file matched: %s", got)
	}

	step(t, ctx, "upload the revoked document",
		chromedp.Navigate(f.srv+"/?lang=en"),
		chromedp.WaitReady(chromedp.CSS("#file")),
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["valid"]}),
		chromedp.WaitVisible(chromedp.CSS("#verdict.tone-invalid")),
	)
	if got := text(t, ctx, "#verdict-title"); !strings.Contains(got, "The issuer has revoked this document") {
		t.Errorf("verdict %q", got)
	}
	if got := text(t, ctx, ".reg-reason"); got != strings.Join(strings.Fields(evilRevocation), " ") {
		t.Errorf("reason shown as %q", got)
	}
	// The signed version of the first signature of a B-LTA file is a
	// prefix of it.
	n := eval[int](t, ctx, `Number(document.querySelector('.save-revision').dataset.length)`)
	save("signed version of B-LTA", ".save-revision", f.data(t, "valid")[:n])
	shot(t, ctx, "registry-revoked-verdict-desktop", 1366, 900, false, false)
	pwned()
	checkCSP(t, ctx)

	// Served over plain http on a LAN address the page is no secure
	// context and has no SubtleCrypto: the downloads are checked with the
	// page's own SHA-256 all the same, and bytes that differ from the
	// report are not saved.
	var noSubtle page.ScriptIdentifier
	step(t, ctx, "remove SubtleCrypto", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		res, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
			Source: `Object.defineProperty(Crypto.prototype, 'subtle', {get: function () { return undefined; }, configurable: true});`,
		})
		if err == nil {
			noSubtle = res.Identifier
		}
		return err
	}))
	defer step(t, ctx, "restore SubtleCrypto", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.RemoveScriptToEvaluateOnNewDocument, page.RemoveScriptToEvaluateOnNewDocumentParams{Identifier: noSubtle})
		return err
	}))
	step(t, ctx, "open /d/ without SubtleCrypto",
		chromedp.Navigate(f.srv+"/d/"+f.validID),
		chromedp.WaitReady(chromedp.CSS("#file")),
	)
	if got := eval[string](t, ctx, `typeof (window.crypto && window.crypto.subtle)`); got != "undefined" {
		t.Fatalf("SubtleCrypto is still there: %s", got)
	}
	// Known answers: FIPS 180-2's "abc", and lengths around the padding's
	// block boundaries up to 1 MiB, against Go's crypto/sha256.
	if got, want := eval[string](t, ctx, `window.esignSHA256(new TextEncoder().encode('abc'))`),
		"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"; got != want {
		t.Errorf("SHA-256 of abc: %s, want %s", got, want)
	}
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 1 << 20} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*31 + i>>8)
		}
		sum := sha256.Sum256(b)
		got := eval[string](t, ctx, fmt.Sprintf(`(function () {
			var b = new Uint8Array(%d);
			for (var i = 0; i < b.length; i++) { b[i] = (i * 31 + (i >> 8)) & 255; }
			return window.esignSHA256(b.buffer);
		})()`, n))
		if got != hex.EncodeToString(sum[:]) {
			t.Errorf("SHA-256 of %d bytes: %s, want %x", n, got, sum)
		}
	}
	step(t, ctx, "upload without SubtleCrypto",
		chromedp.SetUploadFiles(chromedp.CSS("#file"), []string{f.files["attached"]}),
		chromedp.WaitVisible(chromedp.CSS("#match")),
	)
	save("attachment without SubtleCrypto", ".save-attachment", transcriptXML)
	save("signed version without SubtleCrypto", ".save-revision", f.data(t, "attached"))
	// One byte short of what the report names: refused, nothing saved.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir,
	}); err != nil {
		t.Fatal(err)
	}
	step(t, ctx, "save altered bytes",
		chromedp.Evaluate[chromedp.Void](`(function () {
			var b = document.querySelector('.save-revision');
			b.setAttribute('data-length', String(Number(b.getAttribute('data-length')) - 1));
		})()`),
		chromedp.Click(chromedp.CSS(".save-revision")),
		chromedp.WaitVisible(chromedp.CSS("#save-error")),
	)
	if got := text(t, ctx, "#save-error"); got != "บันทึกไม่ได้: ข้อมูลที่ได้ไม่ตรงกับผลการตรวจ" {
		t.Errorf("save error %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("altered bytes were saved: %v", entries)
	}
	checkCSP(t, ctx)
}
