package outbound

import (
	"net/netip"
	"net/url"
	"testing"
)

func TestParseEntry(t *testing.T) {
	tests := []struct {
		in      string
		want    Entry
		wantErr bool
	}{
		{in: "ocsp.example.th", want: Entry{Host: "ocsp.example.th"}},
		{in: " OCSP.Example.TH. ", want: Entry{Host: "ocsp.example.th"}},
		{in: "203.0.113.7", want: Entry{Host: "203.0.113.7"}},
		{in: "::1", want: Entry{Host: "::1"}},
		{in: "[::1]", want: Entry{Host: "::1"}},
		{in: "http://ocsp.example.th", want: Entry{Scheme: "http", Host: "ocsp.example.th"}},
		{in: "HTTPS://CRL.example.th:8443", want: Entry{Scheme: "https", Host: "crl.example.th", Port: "8443"}},
		{in: "http://127.0.0.1:8080", want: Entry{Scheme: "http", Host: "127.0.0.1", Port: "8080"}},
		{in: "http://[::1]:8080/", want: Entry{Scheme: "http", Host: "::1", Port: "8080"}},
		{in: "http://repo.example.th/crl/", want: Entry{Scheme: "http", Host: "repo.example.th", Path: "/crl/"}},
		{in: "ocsp.example.th:8080", wantErr: true},
		{in: "ftp://ocsp.example.th", wantErr: true},
		{in: "file:///etc/passwd", wantErr: true},
		{in: "http://user:pw@ocsp.example.th", wantErr: true},
		{in: "http://ocsp.example.th/?q=1", wantErr: true},
		{in: "http://ocsp.example.th/#f", wantErr: true},
		{in: "http://ocsp.example.th:0", wantErr: true},
		{in: "http://ocsp.example.th:65536", wantErr: true},
		{in: "http://ocsp.example.th:080", wantErr: true},
		{in: "http://ocsp.example.th:", wantErr: true},
		{in: "http://[fe80::1%25eth0]:80", wantErr: true},
		{in: "http://repo.example.th/crl/../admin", wantErr: true},
		{in: "http://repo.example.th/crl%2f..", wantErr: true},
		{in: "http://2130706433", wantErr: true},
		{in: "0x7f.1", wantErr: true},
		{in: "exa mple.th", wantErr: true},
		{in: "-bad.example.th", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseEntry(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestEntryMatchURL(t *testing.T) {
	tests := []struct {
		entry, url string
		want       bool
	}{
		{"ocsp.example.th", "http://ocsp.example.th/x", true},
		{"ocsp.example.th", "https://ocsp.example.th/x", true},
		{"ocsp.example.th", "http://ocsp.example.th:8080/x", false},
		{"ocsp.example.th", "https://ocsp.example.th:80/x", false},
		{"ocsp.example.th", "http://evil.ocsp.example.th/x", false},
		{"http://ocsp.example.th", "https://ocsp.example.th/x", false},
		{"http://ocsp.example.th", "http://ocsp.example.th:80/x", true},
		{"http://ocsp.example.th:8080", "http://ocsp.example.th/x", false},
		{"http://ocsp.example.th:8080", "http://OCSP.example.th:8080/x", true},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/", false},
		{"http://127.0.0.1:8080", "http://[::ffff:127.0.0.1]:8080/", true},
		{"http://repo.example.th/crl/", "http://repo.example.th/crl/ca.crl", true},
		{"http://repo.example.th/crl/", "http://repo.example.th/crl", false},
		{"http://repo.example.th/crl", "http://repo.example.th/crl", true},
		{"http://repo.example.th/crl", "http://repo.example.th/crlx", false},
		{"http://repo.example.th/crl/", "http://repo.example.th/crl/../admin", false},
		{"http://repo.example.th/crl/", "http://repo.example.th/crl/%2e%2e/admin", false},
		{"http://repo.example.th/crl/", "http://repo.example.th/other", false},
	}
	for _, tc := range tests {
		t.Run(tc.entry+" "+tc.url, func(t *testing.T) {
			c, err := New(Options{Allow: []string{tc.entry}})
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.CheckURL(u) == nil; got != tc.want {
				t.Fatalf("allowed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestInternal(t *testing.T) {
	tests := []struct {
		ip   string
		want bool
	}{
		{"127.0.0.1", true},
		{"127.9.9.9", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"100.64.0.1", true},
		{"0.0.0.0", true},
		{"224.0.0.1", true},
		{"255.255.255.255", true},
		{"::1", true},
		{"::", true},
		{"fe80::1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::ffff:0:a9fe:a9fe", true}, // IPv4-translated 169.254.169.254
		{"::ffff:10.0.0.1", true},
		{"::127.0.0.1", true},
		{"64:ff9b::a9fe:a9fe", true},
		{"2002:7f00:1::1", true},
		{"8.8.8.8", false},
		{"164.115.1.1", false},
		{"::ffff:8.8.8.8", false},
		{"2001:4860:4860::8888", false},
	}
	for _, tc := range tests {
		t.Run(tc.ip, func(t *testing.T) {
			if got := internal(netip.MustParseAddr(tc.ip)); got != tc.want {
				t.Fatalf("internal = %v, want %v", got, tc.want)
			}
		})
	}
}

// FuzzParseEntry checks that the parser never panics, and that what it
// accepts prints to a form it reads back to the same entry.
func FuzzParseEntry(f *testing.F) {
	for _, s := range []string{
		"ocsp.example.th", "[::1]", "http://127.0.0.1:8080", "https://crl.example.th:8443/crl/",
		"http://[::ffff:127.0.0.1]:80", "http://a/%2e%2e", "http://x:", "0x7f.1", "http://[fe80::1%25lo]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEntry(s)
		if err != nil {
			return
		}
		if e.Scheme != "" && e.Scheme != "http" && e.Scheme != "https" {
			t.Fatalf("%q: scheme %q", s, e.Scheme)
		}
		back, err := ParseEntry(e.String())
		if err != nil {
			t.Fatalf("%q printed as %q, which does not parse: %v", s, e.String(), err)
		}
		if back != e {
			t.Fatalf("%q: %+v printed as %q reads back as %+v", s, e, e.String(), back)
		}
	})
}
