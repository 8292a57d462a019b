package csc_test

import (
	"crypto"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"esign/csc"
	"esign/store"
	"esign/tsa"
)

// TestTimestampNonceAndHashNames: signatures/timestamp takes the hash's
// algorithm as v1's hashAlgo or v2's hashAlgorithmOID in either version,
// and the token carries the client's nonce.
func TestTimestampNonceAndHashNames(t *testing.T) {
	f := newFixture(t, store.SQLite)
	h := digest(crypto.SHA256)
	cases := []struct {
		name   string
		path   string
		body   map[string]any
		status int
		nonce  string // hex; "" none asked
	}{
		{"v2 hashAlgorithmOID with nonce", "v2/signatures/timestamp", map[string]any{"hashAlgorithmOID": csc.OIDSHA256, "nonce": "1234567890abcdef"}, 200, "1234567890abcdef"},
		{"v2 hashAlgo", "v2/signatures/timestamp", map[string]any{"hashAlgo": csc.OIDSHA256, "nonce": "ff"}, 200, "ff"},
		{"v1 hashAlgo with nonce", "v1/signatures/timestamp", map[string]any{"hashAlgo": csc.OIDSHA256, "nonce": "0123456789ABCDEF0123456789abcdef"}, 200, "0123456789ABCDEF0123456789abcdef"},
		{"v1 hashAlgorithmOID", "v1/signatures/timestamp", map[string]any{"hashAlgorithmOID": csc.OIDSHA256}, 200, ""},
		{"both names agreeing", "v2/signatures/timestamp", map[string]any{"hashAlgo": csc.OIDSHA256, "hashAlgorithmOID": csc.OIDSHA256}, 200, ""},
		{"both names differing", "v2/signatures/timestamp", map[string]any{"hashAlgo": csc.OIDSHA384, "hashAlgorithmOID": csc.OIDSHA256}, 400, ""},
		{"no algorithm", "v2/signatures/timestamp", map[string]any{}, 400, ""},
		{"nonce not hex", "v2/signatures/timestamp", map[string]any{"hashAlgorithmOID": csc.OIDSHA256, "nonce": "xyz"}, 400, ""},
		{"nonce zero", "v2/signatures/timestamp", map[string]any{"hashAlgorithmOID": csc.OIDSHA256, "nonce": "00"}, 400, ""},
		{"nonce too long", "v2/signatures/timestamp", map[string]any{"hashAlgorithmOID": csc.OIDSHA256, "nonce": "1" + strings.Repeat("0", 128)}, 400, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.body["hash"] = b64(h)
			status, out := f.call(t, f.key, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("%d %v, want %d", status, out, tc.status)
			}
			if status != 200 {
				if errorCode(out) != "invalid_request" {
					t.Errorf("error %v", out)
				}
				return
			}
			der, err := base64.StdEncoding.DecodeString(out["timestamp"].(string))
			if err != nil {
				t.Fatal(err)
			}
			tok, err := tsa.ParseToken(der)
			if err != nil {
				t.Fatal(err)
			}
			if err := tok.VerifyImprint(h, crypto.SHA256); err != nil {
				t.Error(err)
			}
			if tc.nonce == "" {
				return
			}
			want, _ := new(big.Int).SetString(tc.nonce, 16)
			if tok.Nonce == nil || tok.Nonce.Cmp(want) != 0 {
				t.Errorf("token nonce %v, want %v", tok.Nonce, want)
			}
		})
	}
}
