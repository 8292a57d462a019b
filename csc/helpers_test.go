package csc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"esign/activation"
	"esign/api"
	"esign/audit"
	"esign/csc"
	"esign/internal/testenv"
	"esign/signer"
	"esign/store"
	"esign/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Main(m)) }

// The development PIN of dev-director, as seeded.
const pin = "123456"

// keys resolves the development credentials to their SoftHSM2 keys.
type keys map[string]signer.Credential

func (k keys) Resolve(_ context.Context, c *store.Credential) (signer.Credential, error) {
	cred, ok := k[c.KeyLabel]
	if !ok {
		return signer.Credential{}, fmt.Errorf("no key %q", c.KeyLabel)
	}
	return cred, nil
}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a log destination written by the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	env        *testenv.Env
	st         *store.Store
	log        *audit.Log
	url        string
	key, key2  string // dev-client and dev-client-2's API keys
	clock      *clock
	logs       *syncBuffer
	keys       keys
	maxFailure int
	server     *csc.Server
	// configure, when set, adjusts each server's configuration.
	configure func(*csc.Config)
}

// newFixture serves the CSC API over the development credentials, as
// seeded: dev-official (RSA, none), dev-registrar (EC P-256, none),
// dev-director (RSA, PIN 123456); dev-client may use all three,
// dev-client-2 only dev-registrar.
func newFixture(t testing.TB, b store.Backend) *fixture {
	t.Helper()
	return newFixtureOn(t, storetest.Open(t, b, store.Options{}))
}

func newFixtureOn(t testing.TB, st *store.Store) *fixture {
	t.Helper()
	return newFixtureWith(t, st, nil)
}

// newFixtureWith is newFixtureOn with configure adjusting the server's
// configuration.
func newFixtureWith(t testing.TB, st *store.Store, configure func(*csc.Config)) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{env: testenv.New(t), st: st, clock: &clock{t: time.Now()},
		logs: &syncBuffer{}, keys: keys{}, maxFailure: 3, configure: configure}
	for _, dc := range store.DefaultDevCredentials() {
		cred := f.env.Creds[dc.Name]
		f.keys[dc.KeyLabel] = cred
		var chain bytes.Buffer
		for _, c := range cred.Chain {
			pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
		if err := f.st.CreateCredential(ctx, store.Credential{Name: dc.Name, KeyLabel: dc.KeyLabel, ChainPEM: chain.Bytes(),
			Activation: dc.Activation, DisplayName: dc.DisplayName, Position: dc.Position}); err != nil {
			t.Fatal(err)
		}
		if dc.PIN != "" {
			if err := f.st.SetPIN(ctx, dc.Name, []byte(dc.PIN)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var err error
	if f.key, err = f.st.CreateClient(ctx, "dev-client", []string{"dev-official", "dev-registrar", "dev-director"}); err != nil {
		t.Fatal(err)
	}
	if f.key2, err = f.st.CreateClient(ctx, "dev-client-2", []string{"dev-registrar"}); err != nil {
		t.Fatal(err)
	}
	f.url, f.server, f.log = f.serve(t, f.st)
	return f
}

// serve starts a CSC API over st, as one replica: its own audit log,
// activator and server, sharing only the database.
func (f *fixture) serve(t testing.TB, st *store.Store) (string, *csc.Server, *audit.Log) {
	t.Helper()
	ctx := context.Background()
	log, err := audit.Open(ctx, st, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	act := activation.New(st, activation.Options{MaxFailures: f.maxFailure, Now: f.clock.now})
	cfg := csc.Config{Store: st, Keys: f.keys, Activator: act, Audit: log, Signer: f.env.Signer,
		TSA: f.env.TSAClient(), Now: f.clock.now}
	if f.configure != nil {
		f.configure(&cfg)
	}
	srv, err := csc.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.New(api.Config{Store: st, Audit: log, Activator: act, Logger: logger, Signer: f.env.Signer, Keys: f.keys,
		RootRoutes: []func(*gin.RouterGroup){srv.Routes}}).Handler()
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL, srv, log
}

// call POSTs body (a value to marshal, or raw JSON bytes) to
// /csc/{path} with the bearer key, and decodes the answer.
func (f *fixture) call(t testing.TB, key, path string, body any) (int, map[string]any) {
	t.Helper()
	status, raw := f.raw(t, key, path, body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s: answer is not JSON (%d): %s", path, status, raw)
		}
	}
	return status, out
}

func (f *fixture) raw(t testing.TB, key, path string, body any) (int, []byte) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case nil:
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, f.url+"/csc/"+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, raw
}

// authorize asks v2 for a SAD, failing the test unless it is given.
func (f *fixture) authorize(t testing.TB, key, cred string, n int, hashes []string, hashOID, pinValue string) string {
	t.Helper()
	body := map[string]any{"credentialID": cred, "numSignatures": n}
	if hashes != nil {
		body["hashes"], body["hashAlgorithmOID"] = hashes, hashOID
	}
	if pinValue != "" {
		body["authData"] = []map[string]string{{"id": "PIN", "value": pinValue}}
	}
	status, out := f.call(t, key, "v2/credentials/authorize", body)
	if status != http.StatusOK {
		t.Fatalf("authorize %s: %d %v", cred, status, out)
	}
	sad, _ := out["SAD"].(string)
	if sad == "" || out["expiresIn"] == nil {
		t.Fatalf("authorize: %v", out)
	}
	return sad
}

// entries returns the audit log's entries of action.
func (f *fixture) entries(t testing.TB, action audit.Action) []audit.Entry {
	t.Helper()
	all, err := f.log.Entries(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Entry
	for _, e := range all {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

func errorCode(out map[string]any) string {
	s, _ := out["error"].(string)
	if _, ok := out["error_description"].(string); !ok {
		return "(no error_description) " + s
	}
	return s
}

func contains(haystack, needle string) bool {
	return needle != "" && strings.Contains(haystack, needle)
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }
