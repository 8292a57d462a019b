package verifyapi

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// TestRequestLog: every request gets one line with the ID sent back in
// X-Request-Id, the status, the duration, the address behind a trusted
// proxy, the API client by name when it sent a key, and the error code of
// a failure; never an API key, a CSC SAD or a form value.
func TestRequestLog(t *testing.T) {
	const (
		goodKey = "esk_1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988"
		badKey  = "esk_99999999aaaaaaaabbbbbbbbccccccccddddddddeeeeeeeeffffffff00000000"
		sad     = "SAD-eyJhbGciOiJFUzI1NiJ9.dmVyaWZpZXItc2Fk.c2lnLTQy"
		proxy   = "10.0.0.1:40000"
	)
	var logs bytes.Buffer
	s := New(Config{
		Logger:         slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Keys:           fakeKeys{goodKey: "agency-a"},
	})
	h := s.Handler()
	withField := func(name, value string) *http.Request {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		fw, _ := mw.CreateFormFile("file", "doc.pdf")
		fw.Write([]byte("not a PDF\n"))
		mw.WriteField(name, value)
		mw.Close()
		req := httptest.NewRequest(http.MethodPost, "/api/v1/verify", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		return req
	}
	for _, tc := range []struct {
		name         string
		req          *http.Request
		peer, xff    string
		auth         string
		status       int
		client, code string
		remote       string
	}{
		{name: "anonymous behind the proxy", req: upload(t, []byte("not a PDF\n")), peer: proxy, xff: "203.0.113.9",
			status: 422, code: codeNotPDF, remote: "203.0.113.9"},
		{name: "forged header", req: upload(t, []byte("not a PDF\n")), peer: "198.51.100.7:1234", xff: "203.0.113.9",
			status: 422, code: codeNotPDF, remote: "198.51.100.7"},
		{name: "keyed client", req: upload(t, []byte("not a PDF\n")), peer: proxy, auth: "Bearer " + goodKey,
			status: 422, client: "agency-a", code: codeNotPDF, remote: "10.0.0.1"},
		{name: "unknown key", req: upload(t, []byte("not a PDF\n")), peer: proxy, auth: "Bearer " + badKey,
			status: 401, code: codeUnauthenticated, remote: "10.0.0.1"},
		{name: "SAD as a key", req: upload(t, []byte("not a PDF\n")), peer: proxy, auth: "Bearer " + sad,
			status: 401, code: codeUnauthenticated, remote: "10.0.0.1"},
		{name: "SAD as Authorization", req: upload(t, []byte("not a PDF\n")), peer: proxy, auth: "SAD " + sad,
			status: 422, code: codeNotPDF, remote: "10.0.0.1"},
		{name: "SAD as an unknown field", req: withField("SAD", sad), peer: proxy, auth: "Bearer " + goodKey,
			status: 400, client: "agency-a", code: "unknown_field", remote: "10.0.0.1"},
		{name: "key as an unknown field", req: withField("api_key", goodKey), peer: proxy,
			status: 400, code: "unknown_field", remote: "10.0.0.1"},
		{name: "healthz", req: httptest.NewRequest(http.MethodGet, "/healthz?sad="+sad, nil), peer: proxy,
			status: 200, remote: "10.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs.Reset()
			tc.req.RemoteAddr = tc.peer
			if tc.xff != "" {
				tc.req.Header.Set("X-Forwarded-For", tc.xff)
			}
			if tc.auth != "" {
				tc.req.Header.Set("Authorization", tc.auth)
			}
			tc.req.Header.Set("X-CSC-SAD", sad)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			var lines []map[string]any
			for _, raw := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var l map[string]any
				if err := json.Unmarshal([]byte(raw), &l); err != nil {
					t.Fatalf("log line %q: %v", raw, err)
				}
				if l["msg"] == "request" {
					lines = append(lines, l)
				}
			}
			if len(lines) != 1 {
				t.Fatalf("%d request lines: %s", len(lines), logs.String())
			}
			l := lines[0]
			str := func(k string) string { s, _ := l[k].(string); return s }
			if id := rec.Header().Get("X-Request-Id"); id == "" || str("request_id") != id {
				t.Errorf("request_id %q, X-Request-Id %q", str("request_id"), id)
			}
			if l["status"] != float64(tc.status) || str("remote") != tc.remote || str("client") != tc.client || str("error") != tc.code {
				t.Errorf("line %v, want status %d remote %s client %q error %q", l, tc.status, tc.remote, tc.client, tc.code)
			}
			if _, ok := l["duration_ms"].(float64); !ok {
				t.Errorf("no duration: %v", l)
			}
			for what, secret := range map[string]string{"API key": goodKey, "unknown key": badKey, "SAD": sad} {
				if strings.Contains(logs.String(), secret) {
					t.Errorf("the log holds the %s: %s", what, logs.String())
				}
			}
		})
	}
}
