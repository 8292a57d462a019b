package verifyapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
	"time"
)

// fakeKeys knows one key; "broken" stands for a store that cannot answer.
type fakeKeys map[string]string

func (k fakeKeys) Client(_ context.Context, key string) (string, error) {
	if key == "broken" {
		return "", errors.New("database is down")
	}
	if name, ok := k[key]; ok {
		return name, nil
	}
	return "", fmt.Errorf("key %.4s…: %w", key, ErrBadKey)
}

// call is one request to the JSON endpoint; what is not set is left out.
type call struct {
	peer, xff, forwarded, auth string
	wantStatus                 int
	wantCode                   string
}

// TestRateLimitKeys: which bucket a request lands in. The clock stands
// still, so no bucket refills during a case; the upload is not a PDF, so a
// request that passes the limit gets 422 at once.
func TestRateLimitKeys(t *testing.T) {
	const (
		proxy     = "10.0.0.1:40000"
		stranger  = "198.51.100.7:40000"
		otherPeer = "198.51.100.8:40000"
		passed    = http.StatusUnprocessableEntity
		limited   = http.StatusTooManyRequests
		goodKey   = "esk_good"
		otherKey  = "esk_other"
		unknowKey = "esk_unknown"
	)
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	keys := fakeKeys{goodKey: "agency-a", otherKey: "agency-b"}
	tests := []struct {
		name  string
		cfg   Config
		calls []call
	}{
		{"forwarded clients get separate buckets", Config{Burst: 1, TrustedProxies: trusted}, []call{
			{peer: proxy, xff: "203.0.113.1", wantStatus: passed},
			{peer: proxy, xff: "203.0.113.1", wantStatus: limited, wantCode: codeRateLimited},
			{peer: proxy, xff: "203.0.113.2", wantStatus: passed},
			{peer: proxy, forwarded: `for="203.0.113.3:5000"`, wantStatus: passed},
			{peer: proxy, forwarded: "for=203.0.113.2", wantStatus: limited},
			// The proxy itself, when it forwards nothing.
			{peer: proxy, wantStatus: passed},
		}},
		{"a forged header from an untrusted peer changes nothing", Config{Burst: 1, TrustedProxies: trusted}, []call{
			{peer: stranger, xff: "203.0.113.1", wantStatus: passed},
			{peer: stranger, xff: "203.0.113.2", wantStatus: limited},
			{peer: stranger, forwarded: "for=203.0.113.3", wantStatus: limited},
			{peer: stranger, wantStatus: limited},
		}},
		{"no trusted proxies: the proxy's clients share its bucket", Config{Burst: 1}, []call{
			{peer: proxy, xff: "203.0.113.1", wantStatus: passed},
			{peer: proxy, xff: "203.0.113.2", wantStatus: limited},
		}},
		{"IPv6 clients by their /64", Config{Burst: 1}, []call{
			{peer: "[2001:db8:1:2::1]:40000", wantStatus: passed},
			{peer: "[2001:db8:1:2::99]:40000", wantStatus: limited},
			{peer: "[2001:db8:1:3::1]:40000", wantStatus: passed},
		}},
		{"a keyed client is limited by its own rate, not its address",
			Config{Burst: 1, Keys: keys, ClientRatePerMinute: 120}, []call{
				{peer: stranger, wantStatus: passed},
				{peer: stranger, wantStatus: limited},
				{peer: stranger, auth: "Bearer " + goodKey, wantStatus: passed},
				{peer: stranger, auth: "Bearer " + goodKey, wantStatus: passed},
				{peer: stranger, auth: "Bearer " + goodKey, wantStatus: limited, wantCode: codeRateLimited},
				// Another client from the same address has its own bucket.
				{peer: stranger, auth: "bearer " + otherKey, wantStatus: passed},
			}},
		{"a wrong key is refused, not served anonymously", Config{Keys: keys}, []call{
			{peer: stranger, auth: "Bearer " + unknowKey, wantStatus: http.StatusUnauthorized, wantCode: codeUnauthenticated},
			{peer: stranger, auth: "Bearer", wantStatus: http.StatusUnauthorized, wantCode: codeUnauthenticated},
			{peer: stranger, auth: "Bearer broken", wantStatus: http.StatusServiceUnavailable, wantCode: codeUnavailable},
			// Basic credentials, say from a proxy's own login, are no key.
			{peer: stranger, auth: "Basic dXNlcjpwYXNz", wantStatus: passed},
		}},
		// Guessing keys costs the address: past its burst, no key is looked
		// up, good or bad, until the bucket refills.
		{"unknown keys spend the address's bucket", Config{Keys: keys, Burst: 2}, []call{
			{peer: stranger, auth: "Bearer " + unknowKey, wantStatus: http.StatusUnauthorized, wantCode: codeUnauthenticated},
			{peer: stranger, auth: "Bearer " + unknowKey + "2", wantStatus: http.StatusUnauthorized, wantCode: codeUnauthenticated},
			{peer: stranger, auth: "Bearer " + unknowKey + "3", wantStatus: limited, wantCode: codeRateLimited},
			{peer: stranger, auth: "Bearer " + goodKey, wantStatus: limited, wantCode: codeRateLimited},
			{peer: otherPeer, auth: "Bearer " + goodKey, wantStatus: passed},
		}},
		{"without Keys the header is not looked at", Config{Burst: 1}, []call{
			{peer: stranger, auth: "Bearer " + unknowKey, wantStatus: passed},
			{peer: stranger, auth: "Bearer " + goodKey, wantStatus: limited},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := time.Unix(1.7e9, 0)
			tc.cfg.Now = func() time.Time { return now }
			h := New(tc.cfg).Handler()
			for i, c := range tc.calls {
				req := upload(t, []byte("not a PDF\n"))
				req.RemoteAddr = c.peer
				for k, v := range map[string]string{"X-Forwarded-For": c.xff, "Forwarded": c.forwarded, "Authorization": c.auth} {
					if v != "" {
						req.Header.Set(k, v)
					}
				}
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != c.wantStatus {
					t.Fatalf("call %d (%+v): %d %s", i, c, rec.Code, rec.Body)
				}
				if c.wantCode != "" {
					var body struct{ Error errorBody }
					if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != c.wantCode {
						t.Fatalf("call %d: body %s, want code %s", i, rec.Body, c.wantCode)
					}
				}
			}
		})
	}
}

// TestConcurrencyBound: with every verification slot taken, a request
// waits QueueWait and then gets 503 busy with Retry-After, whatever its
// address; once a slot frees, requests are served again.
func TestConcurrencyBound(t *testing.T) {
	s := New(Config{MaxConcurrent: 1, QueueWait: 50 * time.Millisecond})
	release, ok := s.acquire(context.Background())
	if !ok {
		t.Fatal("the one slot is not free")
	}
	h := s.Handler()
	rec := httptest.NewRecorder()
	req := upload(t, []byte("not a PDF\n"))
	req.RemoteAddr = "198.51.100.9:1234"
	h.ServeHTTP(rec, req)
	var body struct{ Error errorBody }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); rec.Code != http.StatusServiceUnavailable || err != nil ||
		body.Error.Code != codeBusy || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("with every slot taken: %d %s, Retry-After %q", rec.Code, rec.Body, rec.Header().Get("Retry-After"))
	}
	release()
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, upload(t, []byte("not a PDF\n")))
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("after the slot freed: %d %s", rec.Code, rec.Body)
	}
}
