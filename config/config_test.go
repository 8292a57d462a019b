package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestOutboundSettings(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantAllow []string
		wantMax   int64
		wantErr   bool
	}{
		{name: "defaults", env: nil, wantMax: 10 << 20},
		{name: "entries kept as written", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": " http://ocsp.example.th:8080/Path , crl.example.th,"},
			wantAllow: []string{"http://ocsp.example.th:8080/Path", "crl.example.th"}, wantMax: 10 << 20},
		{name: "bad entry", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": "ocsp.example.th:8080"}, wantErr: true},
		{name: "bad scheme", env: map[string]string{"ESIGN_VERIFY_FETCH_ALLOW": "file:///etc"}, wantErr: true},
		{name: "size cap", env: map[string]string{"ESIGN_OUTBOUND_MAX_MB": "2"}, wantMax: 2 << 20},
		{name: "zero size cap", env: map[string]string{"ESIGN_OUTBOUND_MAX_MB": "0"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(c.VerifyFetchAllow, tc.wantAllow) || c.OutboundMaxBytes != tc.wantMax {
				t.Fatalf("allow %q, max %d; want %q, %d", c.VerifyFetchAllow, c.OutboundMaxBytes, tc.wantAllow, tc.wantMax)
			}
		})
	}
}

func TestVerifierLimitSettings(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		wantProxy  []string
		wantRate   int
		wantBurst  int
		wantClient int
		wantErr    string
	}{
		{name: "defaults", wantRate: 60, wantBurst: 10},
		{name: "all set", env: map[string]string{
			"ESIGN_TRUSTED_PROXIES":               "10.0.0.0/8, 192.0.2.7 ,fd00::/8",
			"ESIGN_VERIFY_RATE_PER_MINUTE":        "120",
			"ESIGN_VERIFY_BURST":                  "20",
			"ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE": "6000",
		}, wantProxy: []string{"10.0.0.0/8", "192.0.2.7/32", "fd00::/8"}, wantRate: 120, wantBurst: 20, wantClient: 6000},
		{name: "bad CIDR", env: map[string]string{"ESIGN_TRUSTED_PROXIES": "10.0.0.0/8,10.0.0.0/40"}, wantErr: "ESIGN_TRUSTED_PROXIES"},
		{name: "host name", env: map[string]string{"ESIGN_TRUSTED_PROXIES": "lb.example.th"}, wantErr: "ESIGN_TRUSTED_PROXIES"},
		{name: "zero rate", env: map[string]string{"ESIGN_VERIFY_RATE_PER_MINUTE": "0"}, wantErr: "ESIGN_VERIFY_RATE_PER_MINUTE"},
		{name: "bad burst", env: map[string]string{"ESIGN_VERIFY_BURST": "ten"}, wantErr: "ESIGN_VERIFY_BURST"},
		{name: "negative client rate", env: map[string]string{"ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE": "-1"}, wantErr: "ESIGN_VERIFY_CLIENT_RATE_PER_MINUTE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var proxies []string
			for _, p := range c.TrustedProxies {
				proxies = append(proxies, p.String())
			}
			if !slices.Equal(proxies, tc.wantProxy) || c.VerifyRatePerMinute != tc.wantRate ||
				c.VerifyBurst != tc.wantBurst || c.VerifyClientRatePerMinute != tc.wantClient {
				t.Fatalf("got proxies %q rate %d burst %d client %d", proxies, c.VerifyRatePerMinute, c.VerifyBurst, c.VerifyClientRatePerMinute)
			}
		})
	}
}

func TestHTTPLimitSettings(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr bool
	}{
		{name: "defaults", want: Config{MaxConns: 1024, MaxConnsPerPeer: 128, MinUploadRate: 16 << 10, UploadRateWindow: 20 * time.Second, IdleTimeout: 30 * time.Second}},
		{name: "set", env: map[string]string{"ESIGN_HTTP_MAX_CONNS": "0", "ESIGN_HTTP_MAX_CONNS_PER_CLIENT": "0", "ESIGN_HTTP_MIN_RATE_KB": "4",
			"ESIGN_HTTP_RATE_WINDOW": "1m", "ESIGN_HTTP_IDLE_TIMEOUT": "2m", "ESIGN_HTTP_READ_TIMEOUT": "2h"},
			want: Config{MinUploadRate: 4 << 10, UploadRateWindow: time.Minute, IdleTimeout: 2 * time.Minute, ReadTimeout: 2 * time.Hour}},
		{name: "bad window", env: map[string]string{"ESIGN_HTTP_RATE_WINDOW": "20"}, wantErr: true},
		{name: "bad conns", env: map[string]string{"ESIGN_HTTP_MAX_CONNS": "-5"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if c.MaxConns != tc.want.MaxConns || c.MaxConnsPerPeer != tc.want.MaxConnsPerPeer || c.MinUploadRate != tc.want.MinUploadRate || c.UploadRateWindow != tc.want.UploadRateWindow ||
				c.IdleTimeout != tc.want.IdleTimeout || c.ReadTimeout != tc.want.ReadTimeout {
				t.Fatalf("got conns %d per client %d rate %d window %s idle %s read %s", c.MaxConns, c.MaxConnsPerPeer, c.MinUploadRate, c.UploadRateWindow, c.IdleTimeout, c.ReadTimeout)
			}
		})
	}
}

func TestTSAURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		wantErr bool
	}{
		{"", false},
		{"https://tsa.example.go.th/", false},
		{"http://127.0.0.1:8080/tsa", false},
		{"https://user:secret@tsa.example.go.th/", true},
		{"ftp://tsa.example.go.th/", true},
		{"tsa.example.go.th", true},
	} {
		_, err := FromEnv(only("ESIGN_TSA_URL", tc.url))
		if (err != nil) != tc.wantErr {
			t.Errorf("ESIGN_TSA_URL %q: error %v, want error %v", tc.url, err, tc.wantErr)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}

func TestSignerFetchTrusted(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"http://10.1.2.3:8080, http://ocsp.ca.local", 2, false},
		{"http://user:pw@10.1.2.3", 0, true},
	} {
		c, err := FromEnv(only("ESIGN_SIGNER_FETCH_TRUSTED", tc.value))
		if (err != nil) != tc.wantErr || err == nil && len(c.SignerFetchTrusted) != tc.want {
			t.Errorf("%q: %d entries, error %v", tc.value, len(c.SignerFetchTrusted), err)
		}
	}
}

func TestFetchAllow(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"http://10.1.2.3:8080, https://ocsp.agency.local/ca1", 2, false},
		{"ftp://10.1.2.3", 0, true},
		{"http://10.1.2.3?x=1", 0, true},
	} {
		c, err := FromEnv(only("ESIGN_FETCH_ALLOW", tc.value))
		if (err != nil) != tc.wantErr || err == nil && len(c.FetchAllow) != tc.want {
			t.Errorf("%q: %d entries, error %v", tc.value, len(c.FetchAllow), err)
		}
	}
}

// only is an environment holding one variable.
func only(key, value string) func(string) string {
	return func(k string) string {
		if k == key {
			return value
		}
		return ""
	}
}

func TestPublicVerifyURL(t *testing.T) {
	for _, tc := range []struct {
		name    string
		env     map[string]string
		dev     bool // set after FromEnv, as esignd's -dev flag does
		want    string
		wantErr bool // from FromEnv or SigningPublicVerifyURL
	}{
		{"production requires it", nil, false, "", true},
		{"development default", map[string]string{"ESIGN_MODE": "dev"}, false, "http://127.0.0.1:8081", false},
		{"development by flag", map[string]string{"ESIGN_VERIFY_ADDR": "127.0.0.1:9091"}, true, "http://127.0.0.1:9091", false},
		{"given", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "https://verify.example.ac.th"}, false, "https://verify.example.ac.th", false},
		{"trailing slash trimmed", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "https://example.ac.th/verify/"}, false, "https://example.ac.th/verify", false},
		{"given wins in development", map[string]string{"ESIGN_MODE": "dev", "ESIGN_PUBLIC_VERIFY_URL": "http://192.168.1.5:8081"}, false, "http://192.168.1.5:8081", false},
		{"relative", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "verify.example.ac.th"}, false, "", true},
		{"other scheme", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "ftp://verify.example.ac.th"}, false, "", true},
		{"query", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "https://verify.example.ac.th/?a=1"}, false, "", true},
		{"fragment", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "https://verify.example.ac.th/#x"}, false, "", true},
		{"credentials", map[string]string{"ESIGN_PUBLIC_VERIFY_URL": "https://u:secret@verify.example.ac.th"}, false, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromEnv(func(k string) string { return tc.env[k] })
			got := ""
			if err == nil {
				c.Dev = c.Dev || tc.dev
				got, err = c.SigningPublicVerifyURL()
			}
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("got %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("the error repeats the password: %v", err)
			}
		})
	}
}

func TestRenewSettings(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	for _, tc := range []struct {
		name             string
		env              map[string]string
		interval, within time.Duration
		wantErr          bool
	}{
		{"off", nil, 0, 0, false},
		{"interval only", map[string]string{"ESIGN_RENEW_INTERVAL": "1h"}, time.Hour, 365 * 24 * time.Hour, false},
		{"within only", map[string]string{"ESIGN_RENEW_WITHIN": "720h"}, 24 * time.Hour, 720 * time.Hour, false},
		{"both", map[string]string{"ESIGN_RENEW_INTERVAL": "6h", "ESIGN_RENEW_WITHIN": "2160h"}, 6 * time.Hour, 2160 * time.Hour, false},
		{"zero", map[string]string{"ESIGN_RENEW_INTERVAL": "0s"}, 0, 0, true},
		{"garbage", map[string]string{"ESIGN_RENEW_WITHIN": "a year"}, 0, 0, true},
	} {
		c, err := FromEnv(env(tc.env))
		if (err != nil) != tc.wantErr || err == nil && (c.RenewInterval != tc.interval || c.RenewWithin != tc.within) {
			t.Errorf("%s: interval %v within %v, error %v", tc.name, c.RenewInterval, c.RenewWithin, err)
		}
	}
}

func TestDialable(t *testing.T) {
	for in, want := range map[string]string{
		":8080":          "127.0.0.1:8080",
		"0.0.0.0:8080":   "127.0.0.1:8080",
		"[::]:8080":      "127.0.0.1:8080",
		"127.0.0.1:8080": "127.0.0.1:8080",
		"esign.go.th:80": "esign.go.th:80",
		"[::1]:9":        "[::1]:9",
	} {
		if got := Dialable(in); got != want {
			t.Errorf("Dialable(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestDevVerifyURLDialable: in development mode a verifier listening on
// all addresses still gets a QR code URL a browser can open.
func TestDevVerifyURLDialable(t *testing.T) {
	for addr, want := range map[string]string{
		":8081":          "http://127.0.0.1:8081",
		"0.0.0.0:8081":   "http://127.0.0.1:8081",
		"127.0.0.1:9000": "http://127.0.0.1:9000",
	} {
		c := Config{Dev: true, VerifyAddr: addr}
		if got, err := c.SigningPublicVerifyURL(); err != nil || got != want {
			t.Errorf("VerifyAddr %q: %q, %v; want %q", addr, got, err, want)
		}
	}
}
