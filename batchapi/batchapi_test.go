package batchapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/batch"
	"esign/signopts"
	"esign/store"
)

// TestOpenAPIDocumentsRoutes: every batch route is in the OpenAPI
// document, and every batch operation there is routed.
func TestOpenAPIDocumentsRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		if strings.HasPrefix(path, "/api/v1/batches") {
			for method := range ops {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	r := gin.New()
	New(Config{}).Routes(r.Group("/api/v1"))
	for _, rt := range r.Routes() {
		// OpenAPI writes path parameters as {id}, gin as :id.
		p := rt.Path
		for _, name := range []string{"id", "ref"} {
			p = strings.ReplaceAll(p, ":"+name, "{"+name+"}")
		}
		routed = append(routed, rt.Method+" "+p)
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Errorf("routes and OpenAPI differ:\nrouted:\n%s\ndocumented:\n%s", strings.Join(routed, "\n"), strings.Join(documented, "\n"))
	}
}

// TestRefusedBeforeTheEngine: malformed requests get 4xx with the error
// JSON, without reaching the engine (there is none here).
func TestRefusedBeforeTheEngine(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key, err := st.CreateClient(ctx, "university", nil)
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{MaxUpload: 1 << 10})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Routes: []func(*gin.RouterGroup){h.Routes}}).Handler())
	defer srv.Close()

	multi := func(fields ...string) (string, []byte) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			w, _ := mw.CreateFormField(fields[i])
			w.Write([]byte(fields[i+1]))
		}
		mw.Close()
		return mw.FormDataContentType(), b.Bytes()
	}
	unknownCT, unknownBody := multi("file", "%PDF", "reason", "x")
	twoCT, twoBody := multi("file", "%PDF", "file", "%PDF")
	noFileCT, noFileBody := multi("field", "Dean")
	bigCT, bigBody := multi("file", strings.Repeat("x", 2<<10))
	twoAttCT, twoAttBody := multi("file", "%PDF", "attachment", "<a/>", "attachment", "<b/>")
	bigAttCT, bigAttBody := multi("file", "%PDF", "attachment", strings.Repeat("x", signopts.MaxAttachment+1))
	for _, tc := range []struct {
		name, method, path, ctype string
		body                      []byte
		status                    int
		code                      string
	}{
		{"not JSON", "POST", "/api/v1/batches", "application/json", []byte("{"), 400, "bad_request"},
		{"JSON array", "POST", "/api/v1/batches", "application/json", []byte("[]"), 400, "bad_request"},
		{"unknown member", "POST", "/api/v1/batches", "application/json", []byte(`{"signer":"s","certfy":"1"}`), 400, "unknown_field"},
		{"password", "POST", "/api/v1/batches", "application/json", []byte(`{"signer":"s","password":"secret"}`), 400, "bad_request"},
		{"object value", "POST", "/api/v1/batches", "application/json", []byte(`{"signer":{"a":1}}`), 400, "bad_request"},
		{"image not base64", "POST", "/api/v1/batches", "application/json", []byte(`{"signer":"s","image":"%%%"}`), 400, "bad_request"},
		{"body too large", "POST", "/api/v1/batches", "application/json", append([]byte(`{"reason":"`), bytes.Repeat([]byte("a"), maxCreateBody)...), 413, "too_large"},
		{"bad ref", "PUT", "/api/v1/batches/x/documents/a%20b", "application/pdf", []byte("%PDF"), 400, "bad_request"},
		{"long ref", "PUT", "/api/v1/batches/x/documents/" + strings.Repeat("a", 129), "application/pdf", []byte("%PDF"), 400, "bad_request"},
		{"media type", "PUT", "/api/v1/batches/x/documents/a", "text/plain", []byte("%PDF"), 415, "unsupported_media_type"},
		{"multipart without boundary", "PUT", "/api/v1/batches/x/documents/a", "multipart/form-data", []byte("x"), 400, "bad_request"},
		{"multipart unknown field", "PUT", "/api/v1/batches/x/documents/a", unknownCT, unknownBody, 400, "unknown_field"},
		{"multipart two files", "PUT", "/api/v1/batches/x/documents/a", twoCT, twoBody, 400, "bad_request"},
		{"multipart no file", "PUT", "/api/v1/batches/x/documents/a", noFileCT, noFileBody, 400, "bad_request"},
		{"multipart too large", "PUT", "/api/v1/batches/x/documents/a", bigCT, bigBody, 413, "too_large"},
		{"multipart two attachments", "PUT", "/api/v1/batches/x/documents/a", twoAttCT, twoAttBody, 400, "bad_request"},
		{"multipart attachment too large", "PUT", "/api/v1/batches/x/documents/a", bigAttCT, bigAttBody, 413, "too_large"},
		{"attachment for the batch", "POST", "/api/v1/batches", "application/json", []byte(`{"signer":"s","attachment":"PGEvPg=="}`), 400, "bad_request"},
		{"bad limit", "GET", "/api/v1/batches/x/documents?limit=0", "", nil, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, bytes.NewReader(tc.body))
			req.Header.Set("Authorization", "Bearer "+key)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatalf("status %d, body not the error JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != tc.status || body.Error.Code != tc.code || body.Error.Message == "" {
				t.Errorf("got %d %q (%s), want %d %q", resp.StatusCode, body.Error.Code, body.Error.Message, tc.status, tc.code)
			}
		})
	}
	// Without the key, nothing is reached.
	resp, err := http.Post(srv.URL+"/api/v1/batches", "application/json", strings.NewReader(`{"signer":"s"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no key: %d, want 401", resp.StatusCode)
	}
}

// FuzzParseSpec: any body gives a spec or an error answered 4xx.
func FuzzParseSpec(f *testing.F) {
	f.Add([]byte(`{"signer":"dev-registrar","level":"B-LTA","reason":"ทดสอบ","idempotency_key":"k"}`))
	f.Add([]byte(`{"signer":"s","certify":2,"lock":true,"page":1,"rect":[1,2,300,400],"image":"iVBORw0KGgo="}`))
	f.Add([]byte(`{"signer":null,"rect":[1e400]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		spec, err := parseSpec(bytes.NewReader(body))
		if err != nil {
			if !errors.Is(err, batch.ErrInvalid) {
				t.Fatalf("error %v would not be a 400", err)
			}
			return
		}
		for k := range spec.Options {
			if k == "activation" || k == "image" || k == "idempotency_key" {
				t.Fatalf("%q kept among the stored options", k)
			}
		}
	})
}
