package documentapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"esign/api"
	"esign/audit"
	"esign/documentapi"
	"esign/registry"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// fixture is a signing API with the document endpoints, two clients,
// and a document issued by the first.
type fixture struct {
	url        string
	key, other string // the issuer's API key, and another client's
	reg        *registry.Registry
	log        *audit.Log
	doc        registry.Document
}

func newFixture(t *testing.T, b store.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	st := storetest.Open(t, b, store.Options{})
	if err := st.CreateCredential(ctx, store.Credential{Name: "registrar", KeyLabel: "registrar", Activation: store.ActivationNone}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{}
	var err error
	if f.key, err = st.CreateClient(ctx, "university", []string{"registrar"}); err != nil {
		t.Fatal(err)
	}
	if f.other, err = st.CreateClient(ctx, "faculty", []string{"registrar"}); err != nil {
		t.Fatal(err)
	}
	if f.log, err = audit.Open(ctx, st, audit.Options{}); err != nil {
		t.Fatal(err)
	}
	if f.reg, err = registry.Open(ctx, st, registry.Options{}); err != nil {
		t.Fatal(err)
	}
	id, err := registry.NewID()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("signed revision"))
	if f.doc, err = f.reg.Record(ctx, nil, registry.Document{ID: id, Client: "university", Credential: "registrar",
		Issuer: "มหาวิทยาลัยตัวอย่าง", RevisionSHA256: sum[:], Label: "6401234567"}); err != nil {
		t.Fatal(err)
	}
	h := documentapi.New(documentapi.Config{Registry: f.reg, Audit: f.log})
	srv := httptest.NewServer(api.New(api.Config{Store: st, Audit: f.log, Routes: []func(*gin.RouterGroup){h.Routes}}).Handler())
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

type answer struct {
	status int
	doc    documentapi.View
	err    struct{ Code, Message string }
	raw    string
}

func (f *fixture) do(t *testing.T, method, path, key, body string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	a := answer{status: resp.StatusCode, raw: buf.String()}
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(buf.Bytes(), &a.doc); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, a.raw)
		}
	} else {
		var e struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
			t.Fatalf("%s %s: %d with no error JSON: %s", method, path, resp.StatusCode, a.raw)
		}
		a.err = e.Error
	}
	return a
}

func forEachBackend(t *testing.T, fn func(t *testing.T, b store.Backend)) {
	for _, b := range storetest.Backends() {
		t.Run(string(b), func(t *testing.T) { fn(t, b) })
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		f := newFixture(t, b)
		path := "/api/v1/documents/" + f.doc.ID
		unknown, _ := registry.NewID()

		got := f.do(t, "GET", path, f.key, "")
		if got.status != 200 || got.doc.Status != "valid" || got.doc.Issuer != "มหาวิทยาลัยตัวอย่าง" || got.doc.Label != "6401234567" ||
			got.doc.RevokedAt != nil || !got.doc.IssuedAt.Equal(f.doc.IssuedAt) || got.doc.ID != f.doc.ID {
			t.Fatalf("GET by the issuer: %d %s", got.status, got.raw)
		}
		if !strings.Contains(got.raw, `"revoked_at":null`) || !strings.Contains(got.raw, `"reason":""`) {
			t.Errorf("a valid document's JSON lacks revoked_at or reason: %s", got.raw)
		}

		// Refusals: the other client and unknown IDs alike get 404 with
		// one body; bad bodies 400; nothing is revoked or audited.
		notFound := f.do(t, "POST", "/api/v1/documents/"+unknown+"/revoke", f.key, `{"reason":"x"}`)
		for _, tc := range []struct {
			name, method, path, key, body string
			status                        int
			code                          string
		}{
			{"other client revokes", "POST", path + "/revoke", f.other, `{"reason":"ผิด"}`, 404, "not_found"},
			{"other client reads", "GET", path, f.other, "", 404, "not_found"},
			{"unknown ID", "POST", "/api/v1/documents/" + unknown + "/revoke", f.key, `{"reason":"x"}`, 404, "not_found"},
			{"malformed ID", "GET", "/api/v1/documents/%3Cscript%3E", f.key, "", 404, "not_found"},
			{"no reason", "POST", path + "/revoke", f.key, `{}`, 400, "bad_request"},
			{"blank reason", "POST", path + "/revoke", f.key, `{"reason":"  "}`, 400, "bad_request"},
			{"not JSON", "POST", path + "/revoke", f.key, `reason=x`, 400, "bad_request"},
			{"unknown member", "POST", path + "/revoke", f.key, `{"reason":"x","force":true}`, 400, "bad_request"},
			{"two values", "POST", path + "/revoke", f.key, `{"reason":"x"}{"reason":"y"}`, 400, "bad_request"},
			{"reason too long", "POST", path + "/revoke", f.key, `{"reason":"` + strings.Repeat("r", registry.MaxReason+1) + `"}`, 400, "bad_request"},
			{"reason not text", "POST", path + "/revoke", f.key, `{"reason":"a\u0000b"}`, 400, "bad_request"},
			{"no key", "POST", path + "/revoke", "", `{"reason":"x"}`, 401, "unauthenticated"},
		} {
			got := f.do(t, tc.method, tc.path, tc.key, tc.body)
			if got.status != tc.status || got.err.Code != tc.code {
				t.Errorf("%s: %d %s, want %d %s", tc.name, got.status, got.raw, tc.status, tc.code)
			}
			if tc.status == 404 && got.raw != notFound.raw {
				t.Errorf("%s: body %s differs from an unknown ID's %s", tc.name, got.raw, notFound.raw)
			}
		}
		if n, _ := f.log.Count(ctx, audit.Filter{Document: f.doc.ID}); n != 0 {
			t.Fatalf("refusals were audited: %d entries", n)
		}

		before := time.Now().Add(-time.Second)
		got = f.do(t, "POST", path+"/revoke", f.key, `{"reason":"แก้ไขผลการเรียน"}`)
		if got.status != 200 || got.doc.Status != "revoked" || got.doc.Reason != "แก้ไขผลการเรียน" || got.doc.RevokedAt == nil ||
			got.doc.RevokedAt.Before(before) || got.doc.Label != "6401234567" {
			t.Fatalf("revoke by the issuer: %d %s", got.status, got.raw)
		}
		if again := f.do(t, "POST", path+"/revoke", f.key, `{"reason":"again"}`); again.status != 409 || again.err.Code != "already_revoked" {
			t.Fatalf("second revocation: %d %s", again.status, again.raw)
		}
		if got := f.do(t, "GET", path, f.key, ""); got.status != 200 || got.doc.Status != "revoked" {
			t.Fatalf("GET after revoking: %d %s", got.status, got.raw)
		}
		d, err := f.reg.Get(ctx, f.doc.ID)
		if err != nil || d.Status != registry.Revoked || d.Reason != "แก้ไขผลการเรียน" {
			t.Fatalf("registry after revoking: %+v, %v", d, err)
		}

		es, err := f.log.List(ctx, audit.Filter{Document: f.doc.ID}, 10)
		if err != nil || len(es) != 1 {
			t.Fatalf("audit entries of the document: %v, %v", es, err)
		}
		e := es[0]
		if e.Action != audit.ActionRevoke || e.Client != "university" || e.Credential != "registrar" || e.Reason != "แก้ไขผลการเรียน" ||
			e.Result != audit.Success || e.RequestID == "" || e.Batch != "" {
			t.Fatalf("audit entry %+v", e)
		}
		if rep, err := f.log.Verify(ctx); err != nil || rep.Entries != 1 {
			t.Fatalf("audit Verify: %+v, %v", rep, err)
		}
	})
}

// TestConcurrentRevocations: of many revocations at once, one wins, the
// others get 409, and the log holds one entry.
func TestConcurrentRevocations(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b store.Backend) {
		f := newFixture(t, b)
		const n = 8
		statuses := make(chan int, n)
		for range n {
			go func() {
				req, _ := http.NewRequest("POST", f.url+"/api/v1/documents/"+f.doc.ID+"/revoke", strings.NewReader(`{"reason":"x"}`))
				req.Header.Set("Authorization", "Bearer "+f.key)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		count := map[int]int{}
		for range n {
			count[<-statuses]++
		}
		if count[200] != 1 || count[409] != n-1 {
			t.Fatalf("statuses %v, want one 200 and %d 409", count, n-1)
		}
		if k, _ := f.log.Count(context.Background(), audit.Filter{Document: f.doc.ID}); k != 1 {
			t.Fatalf("%d audit entries, want 1", k)
		}
	})
}

// TestOpenAPIDocumentsRoutes: every document route is in the OpenAPI
// document, and every document operation there is routed.
func TestOpenAPIDocumentsRoutes(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	var documented, routed []string
	for path, ops := range doc.Paths {
		if strings.HasPrefix(path, "/api/v1/documents") {
			for method := range ops {
				documented = append(documented, strings.ToUpper(method)+" "+path)
			}
		}
	}
	r := gin.New()
	documentapi.New(documentapi.Config{}).Routes(r.Group("/api/v1"))
	for _, rt := range r.Routes() {
		routed = append(routed, rt.Method+" "+strings.ReplaceAll(rt.Path, ":id", "{id}"))
	}
	sort.Strings(documented)
	sort.Strings(routed)
	if strings.Join(documented, "\n") != strings.Join(routed, "\n") {
		t.Errorf("routes and OpenAPI differ:\nrouted:\n%s\ndocumented:\n%s", strings.Join(routed, "\n"), strings.Join(documented, "\n"))
	}
}
