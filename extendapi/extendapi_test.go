package extendapi_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/audit"
	"esign/extend"
	"esign/extendapi"
	"esign/hsm/hsmtest"
	"esign/internal/testenv"
	"esign/signer"
	"esign/store"
	"esign/verify"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// TestOpenAPIDocumentsRoute: the endpoint is in the OpenAPI document,
// and what the document says of it is routed.
func TestOpenAPIDocumentsRoute(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented, routed []string
	for method := range doc.Paths["/api/v1/extend"] {
		documented = append(documented, strings.ToUpper(method)+" /api/v1/extend")
	}
	r := gin.New()
	extendapi.New(extendapi.Config{}).Routes(r.Group("/api/v1"))
	for _, rt := range r.Routes() {
		routed = append(routed, rt.Method+" "+rt.Path)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Errorf("routed %v, documented %v", routed, documented)
	}
}

type server struct {
	url, key string
	env      *testenv.Env
	ext      *extend.Extender
	log      *audit.Log
}

func newServer(t testing.TB) *server {
	t.Helper()
	ctx := context.Background()
	env := testenv.New(t)
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	key, err := st.CreateClient(ctx, "archive", nil)
	if err != nil {
		t.Fatal(err)
	}
	log, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(env.PKI.Root)
	ext := extend.New(extend.Config{Signer: env.Signer, Verify: verify.Config{Roots: roots}})
	h := extendapi.New(extendapi.Config{Extender: ext, Audit: log})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Audit: log, MaxUpload: 8 << 20, Routes: []func(*gin.RouterGroup){h.Routes}}).Handler())
	t.Cleanup(srv.Close)
	return &server{url: srv.URL, key: key, env: env, ext: ext, log: log}
}

func (s *server) post(t testing.TB, key string, file []byte, fields ...string) (*http.Response, []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for i := 0; i+1 < len(fields); i += 2 {
		w, _ := mw.CreateFormField(fields[i])
		w.Write([]byte(fields[i+1]))
	}
	if file != nil {
		w, _ := mw.CreateFormFile("file", "in.pdf")
		w.Write(file)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, s.url+"/api/v1/extend", &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func (s *server) sign(t testing.TB, in []byte, opts signer.Options) []byte {
	t.Helper()
	res, err := s.env.Signer.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), s.env.Creds["dev-official"], opts)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	res.Write(&out, bytes.NewReader(in))
	return out.Bytes()
}

// TestExtendEndpoint: 200 with the extended PDF at either level, and a
// 4xx JSON with the documented code for everything refused.
func TestExtendEndpoint(t *testing.T) {
	s := newServer(t)
	memo, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}
	bt := s.sign(t, memo, signer.Options{Level: signer.LevelT})
	tampered := append([]byte(nil), bt...)
	tampered[len(memo)/2] ^= 0x01
	p1 := s.sign(t, memo, signer.Options{Certify: 1})
	// An encrypted file with a user password, made by qpdf, signed by us
	// keeping the encryption.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plain.pdf"), memo, 0o644)
	if out, err := exec.Command("qpdf", "--encrypt", "user-pw", "owner-pw", "256", "--",
		filepath.Join(dir, "plain.pdf"), filepath.Join(dir, "enc.pdf")).CombinedOutput(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 { // 3: warnings only
			t.Fatalf("qpdf --encrypt: %v %s", err, out)
		}
	}
	encIn, err := os.ReadFile(filepath.Join(dir, "enc.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	enc := s.sign(t, encIn, signer.Options{Level: signer.LevelT, Password: signer.Secret("user-pw")})
	cases := []struct {
		name   string
		key    string
		file   []byte
		fields []string
		status int
		code   string
		docTS  int
	}{
		{"B-LTA by default", s.key, bt, nil, 200, "", 1},
		{"B-LT", s.key, bt, []string{"level", "B-LT"}, 200, "", 0},
		{"B-LTA", s.key, bt, []string{"level", "B-LTA"}, 200, "", 1},
		{"tampered", s.key, tampered, nil, 422, "not_extendable", 0},
		{"no signature", s.key, memo, nil, 422, "not_extendable", 0},
		{"docmdp p1", s.key, p1, nil, 409, "certified_no_changes", 0},
		{"not a pdf", s.key, []byte("%PDF-1.7\nnothing"), nil, 422, "invalid_pdf", 0},
		{"bad level", s.key, bt, []string{"level", "B-T"}, 400, "bad_request", 0},
		{"unknown field", s.key, bt, []string{"signer", "dev-official"}, 400, "unknown_field", 0},
		{"no file", s.key, nil, []string{"level", "B-LT"}, 400, "bad_request", 0},
		{"encrypted, password", s.key, enc, []string{"password", "user-pw"}, 200, "", 1},
		{"encrypted, owner password", s.key, enc, []string{"password", "owner-pw", "level", "B-LT"}, 200, "", 0},
		{"encrypted, no password", s.key, enc, nil, 422, "password_required", 0},
		{"encrypted, wrong password", s.key, enc, []string{"password", "nope"}, 422, "wrong_password", 0},
		{"no key", "", bt, nil, 401, "unauthenticated", 0},
		{"wrong key", "nope", bt, nil, 401, "unauthenticated", 0},
	}
	defer func() {
		// Every entry the endpoint wrote is an extension, never one that
		// reads as a signature by a credential.
		entries, err := s.log.List(context.Background(), audit.Filter{}, 1000)
		if err != nil || len(entries) == 0 {
			t.Fatalf("audit entries: %d, %v", len(entries), err)
		}
		for _, e := range entries {
			if e.Action != audit.ActionExtend || e.Credential != "" {
				t.Errorf("audit entry %d: action %q, credential %q", e.Seq, e.Action, e.Credential)
			}
		}
	}()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := s.post(t, c.key, c.file, c.fields...)
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, body)
			}
			if c.status == 200 {
				if resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(body, c.file) {
					t.Fatalf("answer is not the input with an update appended")
				}
				if got := bytes.Count(body[len(bt):], []byte("/ETSI.RFC3161")); got != c.docTS {
					t.Errorf("%d document timestamps added, want %d", got, c.docTS)
				}
				if resp.Header.Get("X-Esign-Audit") != "recorded" {
					t.Error("no audit entry")
				}
				return
			}
			var e struct {
				Error struct {
					Code    string   `json:"code"`
					Message string   `json:"message"`
					Reasons []string `json:"reasons"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("answer is not JSON: %s", body)
			}
			if e.Error.Code != c.code {
				t.Errorf("code %q, want %q: %s", e.Error.Code, c.code, body)
			}
			if c.name == "tampered" && (len(e.Error.Reasons) == 0 || !strings.Contains(e.Error.Reasons[0], "TOTAL-FAILED")) {
				t.Errorf("reasons %q", e.Error.Reasons)
			}
		})
	}
}
