package api

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"esign/activation"
	"esign/internal/clientip"
	"esign/store"
)

// syncBuffer is a bytes.Buffer the server's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// logLine is what the test reads of a request line.
type logLine struct {
	Msg        string  `json:"msg"`
	RequestID  string  `json:"request_id"`
	Status     int     `json:"status"`
	Duration   float64 `json:"duration_ms"`
	Remote     string  `json:"remote"`
	Client     string  `json:"client"`
	Credential string  `json:"credential"`
	Error      string  `json:"error"`
}

// TestLogsKeepSecrets runs every kind of secret a signing request carries
// (a PIN, a TOTP code, the API key, and a CSC SAD, which the API does not
// take yet and must not echo either) through the service, on the paths
// that succeed and on those that fail, where secrets tend to leak into
// error messages. The debug-level log and the audit log must hold none of
// them, while each request gets one line with its ID, client, credential,
// status, duration and the address behind the trusted proxy.
func TestLogsKeepSecrets(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, key := newTestServer(t, Config{Logger: logger, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	ctx := context.Background()
	st := s.cfg.Store

	const (
		pin      = "PIN-kaew-4417-secret"
		wrongPIN = "PIN-wrong-9931-secret"
		sad      = "SAD-eyJhbGciOiJFUzI1NiJ9.c2FkLWZvci1oYXNoLTE.c2lnbmF0dXJlLTc3"
		otherKey = "sk-live-not-an-esign-key-5c1d"
	)
	now := time.Now()
	totpSecret, err := activation.NewTOTPSecret()
	if err != nil {
		t.Fatal(err)
	}
	code, _ := activation.TOTP{}.CodeAt(totpSecret, now)
	oldCode, _ := activation.TOTP{}.CodeAt(totpSecret, now.Add(-time.Hour))
	if oldCode == code {
		oldCode, _ = activation.TOTP{}.CodeAt(totpSecret, now.Add(-2*time.Hour))
	}
	unknownKey, _ := store.NewKey()

	// dev-director signs with a PIN, dev-official with a TOTP code, and
	// dev-locked (same PIN) is locked by wrong guesses at the end.
	for _, c := range []struct {
		name string
		mode store.ActivationMode
	}{{"dev-director", store.ActivationPIN}, {"dev-official", store.ActivationTOTP}, {"dev-locked", store.ActivationPIN}} {
		if err := st.CreateCredential(ctx, store.Credential{Name: c.name, KeyLabel: c.name, Activation: c.mode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetPIN(ctx, "dev-director", []byte(pin)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetPIN(ctx, "dev-locked", []byte(pin)); err != nil {
		t.Fatal(err)
	}
	if err := st.SetTOTPSecret(ctx, "dev-official", totpSecret); err != nil {
		t.Fatal(err)
	}
	if err := st.AssignCredentials(ctx, "client", "dev-director", "dev-official", "dev-locked"); err != nil {
		t.Fatal(err)
	}
	s.cfg.Activator = activation.New(st, activation.Options{Now: func() time.Time { return now }, MaxFailures: 2})

	ts := httptest.NewServer(s.Handler())
	defer ts.Close()
	pdf, err := os.ReadFile("../testdata/corpus/memo-chromium.pdf")
	if err != nil {
		t.Fatal(err)
	}

	bearer := "Bearer " + key
	type field struct{ name, value string }
	cases := []struct {
		name       string
		path       string // default /api/v1/sign
		auth       string
		header     [2]string // one more header
		query      string
		fields     []field
		raw        string // a body that is not multipart
		status     int
		credential string // logged
	}{
		{name: "PIN", auth: bearer, fields: []field{{"signer", "dev-director"}, {"activation", pin}}, status: 200, credential: "dev-director"},
		{name: "wrong PIN", auth: bearer, fields: []field{{"signer", "dev-director"}, {"activation", wrongPIN}}, status: 403, credential: "dev-director"},
		{name: "PIN with an unknown field", auth: bearer, fields: []field{{"signer", "dev-director"}, {"activation", pin}, {"sad", sad}}, status: 400},
		{name: "PIN with a bad level", auth: bearer, fields: []field{{"signer", "dev-director"}, {"activation", pin}, {"level", "B-Z"}}, status: 400},
		{name: "PIN for a credential not assigned", auth: bearer, fields: []field{{"signer", "nobody"}, {"activation", pin}}, status: 403},
		{name: "PIN with a bad key", auth: "Bearer " + unknownKey, fields: []field{{"signer", "dev-director"}, {"activation", pin}}, status: 401},
		{name: "PIN, not multipart", auth: bearer, raw: "signer=dev-director&activation=" + pin, status: 400},
		{name: "PIN to /fields", path: "/api/v1/fields", auth: bearer, fields: []field{{"fields", "[]"}, {"activation", pin}}, status: 400},
		{name: "TOTP", auth: bearer, fields: []field{{"signer", "dev-official"}, {"activation", code}}, status: 200, credential: "dev-official"},
		{name: "TOTP replayed", auth: bearer, fields: []field{{"signer", "dev-official"}, {"activation", code}}, status: 403, credential: "dev-official"},
		{name: "TOTP old", auth: bearer, fields: []field{{"signer", "dev-official"}, {"activation", oldCode}}, status: 403, credential: "dev-official"},
		{name: "TOTP as an unknown field", auth: bearer, fields: []field{{"signer", "dev-official"}, {"otp", code}}, status: 400},
		{name: "unknown API key", auth: "Bearer " + unknownKey, fields: []field{{"signer", "signer"}}, status: 401},
		{name: "API key of another service", auth: "Bearer " + otherKey, fields: []field{{"signer", "signer"}}, status: 401},
		{name: "API key in Basic", auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("client:"+key)), fields: []field{{"signer", "signer"}}, status: 401},
		{name: "API key in the query", query: "?api_key=" + key, fields: []field{{"signer", "signer"}}, status: 401},
		{name: "SAD as Authorization", auth: "SAD " + sad, fields: []field{{"signer", "signer"}}, status: 401},
		{name: "SAD as a bearer token", auth: "Bearer " + sad, fields: []field{{"signer", "signer"}}, status: 401},
		{name: "SAD in a header and the query", auth: bearer, header: [2]string{"X-CSC-SAD", sad}, query: "?SAD=" + sad, fields: []field{{"signer", "signer"}}, status: 200, credential: "signer"},
		{name: "SAD as an unknown field", auth: bearer, fields: []field{{"signer", "signer"}, {"SAD", sad}}, status: 400},
		{name: "SAD as activation data", auth: bearer, fields: []field{{"signer", "dev-director"}, {"activation", sad}}, status: 403, credential: "dev-director"},
		{name: "wrong PIN locks", auth: bearer, fields: []field{{"signer", "dev-locked"}, {"activation", wrongPIN}}, status: 403, credential: "dev-locked"},
		{name: "wrong PIN locks again", auth: bearer, fields: []field{{"signer", "dev-locked"}, {"activation", wrongPIN}}, status: 403, credential: "dev-locked"},
		{name: "PIN while locked", auth: bearer, fields: []field{{"signer", "dev-locked"}, {"activation", pin}}, status: 403, credential: "dev-locked"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := len(logs.String())
			var body bytes.Buffer
			ctype := "application/x-www-form-urlencoded"
			if tc.raw != "" {
				body.WriteString(tc.raw)
			} else {
				mw := multipart.NewWriter(&body)
				fw, _ := mw.CreateFormFile("file", "memo.pdf")
				fw.Write(pdf)
				mw.WriteField("level", "B-B")
				for _, f := range tc.fields {
					mw.WriteField(f.name, f.value)
				}
				mw.Close()
				ctype = mw.FormDataContentType()
			}
			path := tc.path
			if path == "" {
				path = "/api/v1/sign"
			}
			req, _ := http.NewRequest(http.MethodPost, ts.URL+path+tc.query, &body)
			req.Header.Set("Content-Type", ctype)
			req.Header.Set("X-Forwarded-For", "198.51.100.1, 203.0.113.7")
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.header[0] != "" {
				req.Header.Set(tc.header[0], tc.header[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			lines := waitLines(t, &logs, before)
			if len(lines) != 1 {
				t.Fatalf("%d request lines, want 1", len(lines))
			}
			l := lines[0]
			wantClient := ""
			if tc.status != 401 {
				wantClient = "client"
			}
			switch {
			case l.RequestID == "" || l.RequestID != resp.Header.Get("X-Request-Id"):
				t.Errorf("request_id %q, X-Request-Id %q", l.RequestID, resp.Header.Get("X-Request-Id"))
			case l.Status != tc.status || l.Duration <= 0:
				t.Errorf("status %d duration %v", l.Status, l.Duration)
			case l.Remote != "203.0.113.7":
				t.Errorf("remote %q, want the address the trusted proxy saw", l.Remote)
			case l.Client != wantClient || l.Credential != tc.credential:
				t.Errorf("client %q credential %q, want %q %q", l.Client, l.Credential, wantClient, tc.credential)
			case tc.status != 200 && l.Error == "":
				t.Error("no error on a failed request")
			}
		})
	}

	entries, err := s.cfg.Audit.Entries(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	audited, _ := json.Marshal(entries)
	if len(entries) < 10 {
		t.Fatalf("%d audit entries", len(entries))
	}
	secrets := map[string]string{
		"PIN": pin, "wrong PIN": wrongPIN, "SAD": sad, "API key": key, "API key digits": strings.TrimPrefix(key, "esk_"),
		"unknown API key": unknownKey, "foreign API key": otherKey,
		"TOTP secret (hex)": hex.EncodeToString(totpSecret), "TOTP secret (base32)": base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(totpSecret),
	}
	for name, where := range map[string]string{"log": logs.String(), "audit": string(audited)} {
		for what, secret := range secrets {
			if strings.Contains(where, secret) {
				t.Errorf("the %s holds the %s", name, what)
			}
		}
		// Six digits can occur by chance inside a longer number (a
		// timestamp), so a code counts only on its own.
		for what, c := range map[string]string{"TOTP code": code, "old TOTP code": oldCode} {
			if regexp.MustCompile(`(^|[^0-9])` + c + `([^0-9]|$)`).MatchString(where) {
				t.Errorf("the %s holds the %s", name, what)
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s\naudit:\n%s", logs.String(), audited)
	}
}

// TestLogRemote: the logged address is the connection's unless the
// connection comes from a trusted proxy; gin's own forwarded-header trust
// plays no part.
func TestLogRemote(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		headers map[string]string
		want    string
	}{
		{"no proxy trusted", "", map[string]string{"X-Forwarded-For": "203.0.113.7"}, "127.0.0.1"},
		{"no proxy trusted, X-Real-IP", "", map[string]string{"X-Real-IP": "203.0.113.7", "CF-Connecting-IP": "203.0.113.8"}, "127.0.0.1"},
		{"trusted proxy, X-Forwarded-For", "127.0.0.1", map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"trusted proxy, Forwarded", "127.0.0.0/8", map[string]string{"Forwarded": `for="[2001:db8::1]:4711"`}, "2001:db8::1"},
		{"other proxy trusted", "10.0.0.0/8", map[string]string{"X-Forwarded-For": "203.0.113.7"}, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			trusted, err := clientip.ParsePrefixes(tc.trusted)
			if err != nil {
				t.Fatal(err)
			}
			s := New(Config{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), TrustedProxies: trusted})
			ts := httptest.NewServer(s.Handler())
			defer ts.Close()
			req, _ := http.NewRequest(http.MethodGet, ts.URL+"/healthz", nil)
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			lines := waitLines(t, &logs, 0)
			if len(lines) != 1 || lines[0].Remote != tc.want || lines[0].RequestID != resp.Header.Get("X-Request-Id") {
				t.Fatalf("%+v, want remote %s", lines, tc.want)
			}
		})
	}
}

// waitLines returns the request lines logged past offset from, once
// there are any: the line is written after the answer has gone.
func waitLines(t *testing.T, logs *syncBuffer, from int) []logLine {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if lines := requestLines(t, logs.String()[from:]); len(lines) > 0 || time.Now().After(deadline) {
			return lines
		}
	}
}

// requestLines reads the "request" lines of a JSON log.
func requestLines(t *testing.T, log string) []logLine {
	t.Helper()
	var out []logLine
	for _, raw := range strings.Split(strings.TrimSpace(log), "\n") {
		if raw == "" {
			continue
		}
		var l logLine
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		if l.Msg == "request" {
			out = append(out, l)
		}
	}
	return out
}
