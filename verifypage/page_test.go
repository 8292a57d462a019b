package verifypage_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/devpki"
	"esign/devstack"
	"esign/hsm/hsmtest"
	"esign/internal/testenv"
	"esign/pdf"
	"esign/signer"
	"esign/verify"
	"esign/verifyapi"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// Strings a hostile signer puts in the certificate and the signature
// dictionary. Each would change the page's title or set window.pwned if
// it ran.
const (
	evilName   = `<script>document.title='pwned';window.pwned=1</script>`
	evilOrg    = `<img src=x onerror="window.pwned=2">`
	evilReason = `<script>window.pwned=3</script><b>bold?</b>`
)

// fixture holds signed files made by the real signer with keys in SoftHSM,
// and a verifier server with the page in front of them.
type fixture struct {
	env *testenv.Env
	dir string
	// files by name: valid (B-LTA), tampered (page content overwritten
	// after signing), flipped (a byte of the signed range changed),
	// untrusted (a root not in the trust pool), hostile (markup in the
	// signer's name, organisation and reason).
	files map[string]string
	srv   *httptest.Server
	vc    verify.Config
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := testenv.New(t)
	f := &fixture{env: env, dir: t.TempDir(), files: map[string]string{}}
	in, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", "transcript-chromium.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	official := env.Creds["dev-official"]
	valid := sign(t, env.Signer, in, official, signer.Options{
		Level: signer.LevelLTA, Reason: "รับรองใบแสดงผลการศึกษา", Location: "กรุงเทพมหานคร",
	})
	f.put(t, "valid", valid)
	f.put(t, "tampered", overwritePage(t, valid))
	lt := sign(t, env.Signer, in, official, signer.Options{Level: signer.LevelLT})
	at := bytes.Index(lt, []byte("stream\n"))
	if at < 0 {
		t.Fatal("no stream in the corpus file")
	}
	flipped := append([]byte(nil), lt...)
	flipped[at+len("stream\n")+20] ^= 0x01
	f.put(t, "flipped", flipped)
	f.put(t, "untrusted", sign(t, env.Signer, in, foreignCredential(t), signer.Options{Level: signer.LevelT}))
	f.put(t, "hostile", sign(t, env.Signer, in, f.hostileCredential(t), signer.Options{Level: signer.LevelT, Reason: evilReason}))
	f.put(t, "garbage", []byte("this is not a PDF at all\n"))

	roots := x509.NewCertPool()
	roots.AddCert(env.PKI.Root)
	f.vc = verify.Config{
		Roots:      roots,
		AllowFetch: func(host string) bool { return host == "127.0.0.1" },
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
	}
	f.srv = f.server(t, verifyapi.Config{RatePerMinute: 6000, Burst: 1000})
	return f
}

// server starts a verifier with the fixture's trust settings.
func (f *fixture) server(t *testing.T, cfg verifyapi.Config) *httptest.Server {
	t.Helper()
	cfg.Verify = f.vc
	srv := httptest.NewServer(verifyapi.New(cfg).Handler())
	t.Cleanup(srv.Close)
	return srv
}

func (f *fixture) put(t *testing.T, name string, data []byte) {
	t.Helper()
	p := filepath.Join(f.dir, name+".pdf")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.files[name] = p
}

func (f *fixture) data(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(f.files[name])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sign(t *testing.T, s *signer.Signer, in []byte, cred signer.Credential, opts signer.Options) []byte {
	t.Helper()
	res, err := s.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), cred, opts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// overwritePage appends an incremental update that replaces the first
// page's content after the signatures: the classic "edit a signed PDF".
func overwritePage(t *testing.T, data []byte) []byte {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, pg, err := r.Page(0)
	if err != nil {
		t.Fatal(err)
	}
	ref, ok := pg["Contents"].(pdf.Ref)
	if !ok {
		arr, err := r.Array(pg["Contents"])
		if err != nil || len(arr) == 0 {
			t.Fatalf("page contents %v: %v", pg["Contents"], err)
		}
		ref = arr[0].(pdf.Ref)
	}
	u := r.NewUpdate()
	u.Set(ref, &pdf.Stream{Dict: pdf.Dict{}, Data: []byte("BT /F1 24 Tf 72 72 Td (GPA 4.00) Tj ET")})
	b, _, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(nil), data...), b...)
}

// foreignCredential is a signer under a root the verifier does not trust.
func foreignCredential(t *testing.T) signer.Credential {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	root, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject: pkix.Name{CommonName: "Unknown Root CA", Organization: []string{"Nobody"}}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, rootKey.Public(), nil, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:   pkix.Name{CommonName: "นายปลอม ไม่มีตัวตน", Organization: []string{"หน่วยงานที่ไม่มีใครรู้จัก"}},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}, key.Public(), root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer.Credential{Signer: key, Chain: []*x509.Certificate{leaf, root}}
}

// hostileCredential is a certificate from the development issuing CA
// whose names carry markup.
func (f *fixture) hostileCredential(t *testing.T) signer.Credential {
	t.Helper()
	ctx := context.Background()
	caKey, err := devstack.KeyStore{KM: f.env.Keys}.Key(ctx, devpki.IssuingCA, "RSA-3072")
	if err != nil {
		t.Fatalf("issuing CA key: %v", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	base := f.env.PKI.BaseURL
	cert, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:               pkix.Name{CommonName: evilName, Organization: []string{evilOrg}, Country: []string{"TH"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{base + devpki.PathOCSP},
		IssuingCertificateURL: []string{base + devpki.PathIssuingCert},
		CRLDistributionPoints: []string{base + devpki.PathIssuingCRL},
	}, key.Public(), f.env.PKI.Issuing, caKey)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	return signer.Credential{Signer: key, Chain: []*x509.Certificate{cert, f.env.PKI.Issuing, f.env.PKI.Root}}
}

// post sends a file the way a browser without JavaScript does: a
// multipart form post to the page.
func post(t *testing.T, url string, name string, data []byte) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(data)
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(url, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

// TestPage runs every check against one development PKI: signing the
// files is the slow part.
func TestPage(t *testing.T) {
	f := newFixture(t)
	t.Run("form post without JavaScript", f.testFormPost)
	t.Run("limits", f.testLimits)
	t.Run("JSON API unchanged", f.testAPI)
	t.Run("browser", f.testBrowser)
}

func (f *fixture) testFormPost(t *testing.T) {
	cases := []struct {
		name, file, query string
		status            int
		want              []string
		not               []string
	}{
		{"valid", "valid", "?lang=th", 200,
			[]string{`<html lang="th">`, `data-tone="valid"`, "เอกสารนี้ได้รับการลงลายมือชื่อและไม่ถูกแก้ไข", "นางสาวสมศรี ใจดี", "PAdES-BASELINE-LTA",
				"รับรองใบแสดงผลการศึกษา", "esign Development TSA", `download="esign-report.json"`, "ไฟล์ของท่านไม่ถูกจัดเก็บ"},
			[]string{"tone-invalid"}},
		{"valid in English", "valid", "?lang=en", 200,
			[]string{`<html lang="en">`, "This document is signed and has not been changed", "Verifiable in the long term"}, nil},
		{"page overwritten", "tampered", "", 200,
			[]string{`data-tone="invalid"`, "เอกสารนี้ไม่ผ่านการตรวจสอบ", "เนื้อหาบนหน้าเอกสารถูกแก้ไข"}, nil},
		{"byte flipped", "flipped", "", 200,
			[]string{`data-tone="invalid"`, "ข้อมูลในเอกสารไม่ตรงกับข้อมูลที่ลงลายมือชื่อไว้"}, nil},
		{"untrusted root", "untrusted", "", 200,
			[]string{`data-tone="indeterminate"`, "ไม่สามารถยืนยันเอกสารนี้ได้ครบถ้วน", "ไม่ได้ออกโดยหน่วยงานที่ระบบนี้เชื่อถือ", "นายปลอม ไม่มีตัวตน"}, nil},
		{"markup in the file", "hostile", "", 200,
			[]string{"&lt;script&gt;document.title=", "&lt;img src=x onerror=", "&lt;b&gt;bold?&lt;/b&gt;"},
			[]string{evilName, evilOrg, "<b>bold?</b>"}},
		{"not a PDF", "garbage", "?lang=en", 422, []string{"tone-error", "This file is not a PDF."}, nil},
		{"fragment for the script", "valid", "?lang=th&partial=1", 200,
			[]string{`data-tone="valid"`}, []string{"<html", "<form"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := post(t, f.srv.URL+"/"+c.query, c.file+".pdf", f.data(t, c.file))
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s", res.StatusCode, c.status, body)
			}
			if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
			}
			for _, w := range c.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range c.not {
				if strings.Contains(body, w) {
					t.Errorf("page contains %q", w)
				}
			}
		})
	}
}

// testLimits checks that the page goes through the same size and rate
// limits as the API, and answers them in HTML.
func (f *fixture) testLimits(t *testing.T) {
	t.Run("too large", func(t *testing.T) {
		srv := f.server(t, verifyapi.Config{MaxUpload: 4 << 10})
		res, body := post(t, srv.URL+"/?lang=en", "big.pdf", f.data(t, "valid"))
		if res.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, "The file is larger than allowed.") {
			t.Errorf("status %d, body:\n%s", res.StatusCode, body)
		}
		get, err := http.Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if !strings.Contains(string(page), `data-max="4096"`) || !strings.Contains(string(page), "ขนาดไฟล์ไม่เกิน 4 KB") {
			t.Error("the page does not state the limit")
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		srv := f.server(t, verifyapi.Config{RatePerMinute: 1, Burst: 1})
		if res, body := post(t, srv.URL+"/", "a.pdf", f.data(t, "garbage")); res.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("first post: status %d\n%s", res.StatusCode, body)
		}
		// The page and the API share the client's budget.
		res, body := post(t, srv.URL+"/api/v1/verify", "a.pdf", f.data(t, "garbage"))
		if res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("API after the page: status %d\n%s", res.StatusCode, body)
		}
		res, body = post(t, srv.URL+"/?lang=th", "a.pdf", f.data(t, "garbage"))
		if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
			!strings.Contains(body, "มีการตรวจสอบจากเครื่องของท่านถี่เกินไป") {
			t.Errorf("status %d, Retry-After %q, body:\n%s", res.StatusCode, res.Header.Get("Retry-After"), body)
		}
	})
	t.Run("upload not kept", func(t *testing.T) {
		// Past 32 MB the multipart reader spools the file to the temporary
		// directory; nothing of it may stay there once the page answered.
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		big := bytes.Repeat([]byte("not a PDF "), 3400<<10) // 34 MB
		res, body := post(t, f.srv.URL+"/", "big.pdf", big)
		if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "ไฟล์นี้ไม่ใช่ไฟล์ PDF") {
			t.Fatalf("status %d\n%.2000s", res.StatusCode, body)
		}
		left, err := os.ReadDir(tmp)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("the upload left %d files in the temporary directory: %v", len(left), left)
		}
	})
	t.Run("no file", func(t *testing.T) {
		res, err := http.Post(f.srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader("file=x"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "ไม่ได้รับไฟล์") {
			t.Errorf("status %d, body:\n%s", res.StatusCode, body)
		}
	})
}

// testAPI checks that wiring the page in left the JSON endpoint and the
// error shape as they were.
func (f *fixture) testAPI(t *testing.T) {
	res, body := post(t, f.srv.URL+"/api/v1/verify", "valid.pdf", f.data(t, "valid"))
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(body, `"indication":"TOTAL-PASSED"`) {
		t.Errorf("verify: status %d %q\n%.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	res, body = post(t, f.srv.URL+"/api/v1/verify", "garbage.pdf", f.data(t, "garbage"))
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, `"code":"not_pdf"`) {
		t.Errorf("garbage: status %d\n%s", res.StatusCode, body)
	}
	// A field the endpoint does not take is refused, not dropped.
	var extra bytes.Buffer
	mw := multipart.NewWriter(&extra)
	w, _ := mw.CreateFormFile("file", "valid.pdf")
	w.Write(f.data(t, "valid"))
	mw.WriteField("allow_fetch", "true")
	mw.Close()
	res, err := http.Post(f.srv.URL+"/api/v1/verify", mw.FormDataContentType(), &extra)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"code":"unknown_field"`) || !strings.Contains(string(b), "allow_fetch") {
		t.Errorf("unknown field: status %d\n%s", res.StatusCode, b)
	}
	for _, path := range []string{"/nothing", "/api/v1/nothing"} {
		get, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(get.Body)
		get.Body.Close()
		if get.StatusCode != 404 || !strings.Contains(string(b), `"code":"not_found"`) {
			t.Errorf("GET %s: %d %s", path, get.StatusCode, b)
		}
	}
	noPage := f.server(t, verifyapi.Config{NoPage: true})
	get, err := http.Get(noPage.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	get.Body.Close()
	if get.StatusCode != 404 {
		t.Errorf("NoPage: GET / answered %d", get.StatusCode)
	}
}
