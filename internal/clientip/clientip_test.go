package clientip

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientIP(t *testing.T) {
	trusted, err := ParsePrefixes("10.0.0.0/8, 192.0.2.7, 2001:db8:ffff::/48")
	if err != nil {
		t.Fatal(err)
	}
	r := Resolver{Trusted: trusted}
	tests := []struct {
		name    string
		remote  string
		headers map[string][]string
		want    string
	}{
		{"no headers", "198.51.100.1:5000", nil, "198.51.100.1"},
		{"untrusted peer forges XFF", "198.51.100.1:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "198.51.100.1"},
		{"untrusted peer forges Forwarded", "198.51.100.1:5000",
			map[string][]string{"Forwarded": {"for=203.0.113.9"}}, "198.51.100.1"},
		{"trusted proxy, XFF", "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
		{"trusted proxy, no header", "10.1.2.3:5000", nil, "10.1.2.3"},
		{"client-written left part ignored", "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9"}}, "203.0.113.9"},
		{"trusted hops skipped", "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"1.1.1.1, 203.0.113.9, 192.0.2.7", "10.9.9.9"}}, "203.0.113.9"},
		{"all hops trusted", "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"10.0.0.5, 10.0.0.6"}}, "10.0.0.5"},
		{"garbage stops the walk", "10.1.2.3:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9, nonsense"}}, "10.1.2.3"},
		{"Forwarded with port and quotes", "10.1.2.3:5000",
			map[string][]string{"Forwarded": {`for="203.0.113.9:4711";proto=https, for=10.0.0.8`}}, "203.0.113.9"},
		{"Forwarded IPv6", "10.1.2.3:5000",
			map[string][]string{"Forwarded": {`for="[2001:db8::1]:4711"`}}, "2001:db8::1"},
		// A proxy that appends only X-Forwarded-For passes the client's own
		// Forwarded through: the client must not name its address with it.
		{"XFF wins over a Forwarded the client sent", "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=198.51.100.77"}, "X-Forwarded-For": {"203.0.113.2"}}, "203.0.113.2"},
		{"Forwarded alone", "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=203.0.113.1"}}, "203.0.113.1"},
		{"Forwarded unknown", "10.1.2.3:5000",
			map[string][]string{"Forwarded": {"for=unknown"}}, "10.1.2.3"},
		{"IPv6 trusted proxy", "[2001:db8:ffff::1]:443",
			map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.9"}}, "203.0.113.9"},
		{"mapped peer", "[::ffff:10.1.2.3]:5000",
			map[string][]string{"X-Forwarded-For": {"203.0.113.9"}}, "203.0.113.9"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for k, vs := range tc.headers {
				for _, v := range vs {
					req.Header.Add(k, v)
				}
			}
			if got := r.ClientIP(req); got != netip.MustParseAddr(tc.want) {
				t.Errorf("ClientIP = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	tests := []struct {
		in      string
		want    int
		wantErr bool
	}{
		{"", 0, false},
		{"10.0.0.0/8,,172.16.0.0/12", 2, false},
		{"127.0.0.1", 1, false},
		{"::1", 1, false},
		{"10.0.0.0/33", 0, true},
		{"proxy.example.th", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParsePrefixes(tc.in)
			if (err != nil) != tc.wantErr || len(got) != tc.want {
				t.Fatalf("ParsePrefixes(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

func TestKey(t *testing.T) {
	if a, b := Key(netip.MustParseAddr("2001:db8::1")), Key(netip.MustParseAddr("2001:db8::ffff:1")); a != b {
		t.Errorf("one /64, two keys: %s %s", a, b)
	}
	if Key(netip.MustParseAddr("192.0.2.1")) == Key(netip.MustParseAddr("192.0.2.2")) {
		t.Error("two IPv4 addresses share a key")
	}
}
