package cscclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"esign/activation"
	"esign/outbound"
	"esign/signer"
)

// TestRemoteErrors: the remote's refusals become this service's errors,
// so /api/v1/sign answers as for a local key, and the API key never
// appears in one.
func TestRemoteErrors(t *testing.T) {
	const key = "esk_secret-remote-key"
	cases := []struct {
		name   string
		status int
		body   string
		want   error // nil: neither of the two
	}{
		{"wrong PIN", 400, `{"error":"invalid_pin","error_description":"The PIN is invalid"}`, activation.ErrActivationFailed},
		{"wrong OTP", 400, `{"error":"invalid_otp","error_description":"The OTP is invalid"}`, activation.ErrActivationFailed},
		{"locked", 403, `{"error":"access_denied","error_description":"locked"}`, activation.ErrActivationFailed},
		{"missing PIN", 400, `{"error":"invalid_request","error_description":"Missing activation data: this credential needs its PIN"}`, activation.ErrActivationFailed},
		{"down", 503, `{"error":"temporarily_unavailable","error_description":"busy"}`, signer.ErrUnavailable},
		{"overloaded", 429, ``, signer.ErrUnavailable},
		{"server error", 500, `not json`, signer.ErrUnavailable},
		{"bad request", 400, `{"error":"invalid_request","error_description":"Invalid parameter SAD"}`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer "+key || r.URL.Path != "/csc/v2/credentials/authorize" {
					http.Error(w, "wrong request", http.StatusTeapot)
					return
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			hc, err := outbound.New(outbound.Options{Trusted: []string{srv.URL}, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			c := &Client{BaseURL: srv.URL, APIKey: key, HTTP: hc}
			_, _, err = c.Authorize(context.Background(), "x", 1, nil, "", "PIN", "123456")
			if err == nil || strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "123456") {
				t.Fatalf("error %v", err)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("%v is not %v", err, tc.want)
			}
			if tc.want == nil && (errors.Is(err, activation.ErrActivationFailed) || errors.Is(err, signer.ErrUnavailable)) {
				t.Fatalf("%v classified", err)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := "http://" + ln.Addr().String()
		ln.Close()
		hc, _ := outbound.New(outbound.Options{Trusted: []string{addr}, Timeout: 2 * time.Second})
		c := &Client{BaseURL: addr, APIKey: key, HTTP: hc}
		if _, err := c.CredentialInfo(context.Background(), "x"); !errors.Is(err, signer.ErrUnavailable) || strings.Contains(err.Error(), key) {
			t.Fatalf("unreachable: %v", err)
		}
	})
}

func TestRemoteValidate(t *testing.T) {
	for _, r := range []Remote{
		{URL: "ftp://x", Credential: "a", KeyFile: "f"}, {URL: "https://u:p@x", Credential: "a", KeyFile: "f"},
		{URL: "https://x", KeyFile: "f"}, {URL: "https://x", Credential: "a"}, {URL: "://", Credential: "a", KeyFile: "f"},
	} {
		if r.Validate() == nil {
			t.Errorf("%+v accepted", r)
		}
	}
	if err := (Remote{URL: "https://rss.example.th/base", Credential: "a", KeyFile: "f"}).Validate(); err != nil {
		t.Error(err)
	}
}

// TestRemoteValidateScheme: a remote CSC URL is https, or http to this machine
// only: the API key and forwarded PINs must not travel in clear.
func TestRemoteValidateScheme(t *testing.T) {
	cases := []struct {
		url string
		ok  bool
	}{
		{"https://rss.example-ca.co.th", true},
		{"https://203.0.113.5:8443/base", true},
		{"http://127.0.0.1:8080", true},
		{"http://[::1]:8080", true},
		{"http://localhost:8080", true},
		{"http://127.0.0.2", true},
		{"http://rss.example-ca.co.th", false},
		{"http://203.0.113.5", false},
		{"http://[::ffff:203.0.113.5]", false},
		{"http://localhost.example.com", false},
		{"https://user:pw@rss.example-ca.co.th", false},
		{"ftp://rss.example-ca.co.th", false},
		{"https://", false},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			err := Remote{URL: tc.url, Credential: "c", KeyFile: "/k"}.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate: %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
