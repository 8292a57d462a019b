package extend_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"esign/config"
	"esign/extend"
	"esign/outbound"
	"esign/revocation"
	"esign/signer"
	"esign/verify"
)

// TestFetchOptions: URLs from uploaded files reach a loopback service
// only when ESIGN_FETCH_ALLOW or ESIGN_SIGNER_FETCH_TRUSTED names it, or
// it is the development services in development mode.
func TestFetchOptions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) }))
	defer srv.Close()
	for _, c := range []struct {
		name   string
		cfg    config.Config
		devURL string
		ok     bool
	}{
		{"nothing named", config.Config{}, "", false},
		{"ESIGN_FETCH_ALLOW", config.Config{FetchAllow: []string{srv.URL}}, "", true},
		{"another port", config.Config{FetchAllow: []string{"http://127.0.0.1:1"}}, "", false},
		{"ESIGN_SIGNER_FETCH_TRUSTED", config.Config{SignerFetchTrusted: []string{srv.URL}}, "", true},
		{"development services", config.Config{Dev: true}, srv.URL, true},
		{"development URL outside development mode", config.Config{}, srv.URL, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, err := outbound.New(extend.FetchOptions(c.cfg, c.devURL))
			if err != nil {
				t.Fatal(err)
			}
			_, err = client.Get(context.Background(), srv.URL+"/ocsp")
			if c.ok && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !c.ok && !errors.Is(err, outbound.ErrNotAllowed) {
				t.Errorf("error %v, want ErrNotAllowed", err)
			}
		})
	}
}

// TestExtendFetchesNoInternalURL: a file whose certificates point at a
// loopback responder that nothing names is not extended (422
// not_extendable, naming the refused destination), and the responder is
// never asked.
func TestExtendFetchesNoInternalURL(t *testing.T) {
	f := newFixture(t)
	bt := f.sign(t, corpus(t, "memo-chromium.pdf"), "dev-official", signer.Options{Level: signer.LevelT})
	client, err := outbound.New(extend.FetchOptions(config.Config{}, ""))
	if err != nil {
		t.Fatal(err)
	}
	ext := extend.New(extend.Config{
		Signer: &signer.Signer{TSA: f.env.TSAClient(), Revocation: &revocation.Fetcher{Client: client}},
		Verify: verify.Config{Roots: f.roots},
	})
	_, err = ext.Extend(context.Background(), bytes.NewReader(bt), int64(len(bt)), signer.LevelLT)
	var ne *extend.NotExtendableError
	if !errors.As(err, &ne) || !strings.Contains(ne.Reasons[0], "not allowed") {
		t.Fatalf("error %v, want not extendable, the revocation fetch refused", err)
	}
}
