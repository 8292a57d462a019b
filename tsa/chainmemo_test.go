package tsa

import (
	"context"
	"crypto"
	"net/http/httptest"
	"testing"
	"time"
)

// TestChainMemo checks that a remembered chain is reused only for the
// same roots and within the span its certificates are valid in.
func TestChainMemo(t *testing.T) {
	good := newTestPKI(t, ecKey(t), profileTSA)
	other := newTestPKI(t, ecKey(t), profileTSA)
	ts := httptest.NewServer(good.server())
	defer ts.Close()
	c := &Client{URL: ts.URL, Roots: good.roots()}
	tok, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "one"), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.chains.spans) != 1 {
		t.Fatalf("memo holds %d chains after one token, want 1", len(c.chains.spans))
	}
	if _, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "two"), crypto.SHA256); err != nil {
		t.Fatalf("second token, from the memo: %v", err)
	}

	tests := []struct {
		name  string
		roots func() *Client
		at    time.Time
		ok    bool
	}{
		{"same roots, same time", func() *Client { return c }, tok.Time, true},
		{"other roots", func() *Client { c.Roots = other.roots(); return c }, tok.Time, false},
		{"same roots again, time after the TSA certificate expired", func() *Client {
			c.Roots = good.roots()
			return c
		}, good.tsa.NotAfter.Add(time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := tt.roots()
			tk := *tok
			tk.Time = tt.at
			err := cl.chains.verify(&tk, cl.Roots)
			if (err == nil) != tt.ok {
				t.Errorf("verify = %v, want ok %v", err, tt.ok)
			}
		})
	}
}
