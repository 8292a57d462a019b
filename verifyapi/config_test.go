package verifyapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"esign/config"
	"esign/outbound"
)

// TestVerifyConfigFetch checks who the verifier may fetch from: nothing by
// default, and in development mode the development services' address
// (ESIGN_ADDR) and no other port on the machine.
func TestVerifyConfigFetch(t *testing.T) {
	var devHits, otherHits atomic.Int64
	dev := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { devHits.Add(1) }))
	defer dev.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherHits.Add(1) }))
	defer other.Close()
	devAddr := strings.TrimPrefix(dev.URL, "http://")

	tests := []struct {
		name           string
		cfg            config.Config
		wantFetch      bool
		devOK, otherOK bool
	}{
		{name: "production, no list", cfg: config.Config{Addr: devAddr}},
		{name: "development", cfg: config.Config{Dev: true, Addr: devAddr}, wantFetch: true, devOK: true},
		{name: "development with a bare loopback host", cfg: config.Config{Dev: true, Addr: devAddr, VerifyFetchAllow: []string{"127.0.0.1"}}, wantFetch: true, devOK: true},
		{name: "production listing a port", cfg: config.Config{Addr: devAddr, VerifyFetchAllow: []string{other.URL}}, wantFetch: true, otherOK: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			vc, err := VerifyConfig(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if (vc.Fetch != nil) != tc.wantFetch {
				t.Fatalf("Fetch set = %v, want %v", vc.Fetch != nil, tc.wantFetch)
			}
			if vc.Fetch == nil {
				return
			}
			for _, c := range []struct {
				url  string
				ok   bool
				hits *atomic.Int64
			}{{dev.URL, tc.devOK, &devHits}, {other.URL, tc.otherOK, &otherHits}} {
				c.hits.Store(0)
				_, err := vc.Fetch.Get(context.Background(), c.url)
				if c.ok && err != nil || !c.ok && !errors.Is(err, outbound.ErrNotAllowed) {
					t.Errorf("%s: err = %v, want allowed %v", c.url, err, c.ok)
				}
				if (c.hits.Load() > 0) != c.ok {
					t.Errorf("%s got %d requests", c.url, c.hits.Load())
				}
			}
		})
	}
	if _, err := VerifyConfig(config.Config{VerifyFetchAllow: []string{"ftp://x"}, DataDir: t.TempDir()}); err == nil {
		t.Error("a bad entry was accepted")
	}
}
