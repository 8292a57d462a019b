package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseOpenSSLTokens checks ParseToken against tokens OpenSSL issues,
// with both the ESSCertID (SHA-1) and ESSCertIDv2 (SHA-256) bindings.
func TestParseOpenSSLTokens(t *testing.T) {
	for _, essAlg := range []string{"sha1", "sha256"} {
		t.Run(essAlg, func(t *testing.T) {
			p := newTestPKI(t, rsaKey(), profileTSA)
			dir := p.dir
			writePEM(t, filepath.Join(dir, "tsa.pem"), p.tsa)
			writePEM(t, filepath.Join(dir, "issuing.pem"), p.issuing)
			keyDER, err := x509.MarshalPKCS8PrivateKey(rsaKey())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "tsa.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg := fmt.Sprintf(`[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
serial = %[1]s/serial
crypto_device = builtin
signer_cert = %[1]s/tsa.pem
certs = %[1]s/issuing.pem
signer_key = %[1]s/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = %[2]s
`, dir, essAlg)
			if err := os.WriteFile(filepath.Join(dir, "tsa.cnf"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			// openssl ts -reply increments the serial before using it.
			if err := os.WriteFile(filepath.Join(dir, "serial"), []byte("01\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			digest := digestOf(crypto.SHA384, "openssl issued")
			query := filepath.Join(dir, "q.tsq")
			if out, err := openssl(t, "ts", "-query", "-digest", hex.EncodeToString(digest), "-sha384", "-cert", "-out", query); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			token := filepath.Join(dir, "token.der")
			if out, err := openssl(t, "ts", "-reply", "-config", filepath.Join(dir, "tsa.cnf"), "-queryfile", query, "-token_out", "-out", token); err != nil {
				t.Fatalf("openssl ts -reply: %v\n%s", err, out)
			}
			der, err := os.ReadFile(token)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := ParseToken(der)
			if err != nil {
				t.Fatalf("ParseToken: %v", err)
			}
			if err := tok.VerifyImprint(digest, crypto.SHA384); err != nil {
				t.Error(err)
			}
			if !tok.Certificate.Equal(p.tsa) || tok.SerialNumber.Int64() != 2 || tok.Accuracy.Milliseconds() != 1500 {
				t.Errorf("token fields: cert %s serial %v accuracy %v", tok.Certificate.Subject, tok.SerialNumber, tok.Accuracy)
			}
			if _, err := tok.VerifyChain(p.roots(), nil); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestParseTokenRejectsDamage(t *testing.T) {
	p := newTestPKI(t, ecKey(t), profileTSA)
	ts := httptest.NewServer(p.server())
	defer ts.Close()
	tok, err := (&Client{URL: ts.URL}).Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	good := tok.DER

	// Find the imprint digest inside the DER to damage the signed content.
	at := bytes.Index(good, tok.HashedMessage)
	if at < 0 {
		t.Fatal("imprint not found in token")
	}
	flip := func(i int) []byte {
		b := bytes.Clone(good)
		b[i] ^= 0x01
		return b
	}
	tests := []struct {
		name string
		der  []byte
	}{
		{"empty", nil},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"imprint changed", flip(at)},
		{"signature changed", flip(len(good) - 3)},
		{"too large", make([]byte, MaxTokenSize+1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseToken(tc.der); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}

	t.Run("untrusted root", func(t *testing.T) {
		other := newTestPKI(t, ecKey(t), profileTSA)
		if _, err := tok.VerifyChain(other.roots(), nil); err == nil {
			t.Fatal("chain to a foreign root accepted")
		}
		if _, err := tok.VerifyChain(p.roots(), nil); err != nil {
			t.Fatalf("own root: %v", err)
		}
	})
}

// FuzzParseToken feeds ParseToken arbitrary bytes: it must return a token or
// an error, never panic or hang. Seeds: the real tokens of the development
// server (testdata/*.tst), and in testdata/fuzz/FuzzParseToken the same
// truncated and with trailing data, and a CMS signature that is no token.
func FuzzParseToken(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "*.tst"))
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		tok, err := ParseToken(der)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if tok.Certificate == nil || tok.SerialNumber == nil || len(tok.HashedMessage) != tok.Hash.Size() {
			t.Fatalf("accepted token lacks fields: %+v", tok)
		}
	})
}

// FuzzServerRespond feeds the server arbitrary request bodies: every answer
// must be a TimeStampResp, granted only with a token that parses, and the
// client's response check must not panic on it either.
func FuzzServerRespond(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "request.tsq")); err == nil {
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x00})
	s := newTestPKI(f, ecKey(f), profileTSA).server()
	f.Fuzz(func(t *testing.T, der []byte) {
		resp := s.respond(der)
		st := statusOf(t, resp)
		if st.Status == statusGranted {
			var r timeStampResp
			_ = unmarshalExact(resp, &r)
			if _, err := ParseToken(r.TimeStampToken.FullBytes); err != nil && !strings.Contains(err.Error(), "not in the token") {
				t.Fatalf("granted token does not parse: %v", err)
			}
		}
		c := &Client{}
		_, _ = c.checkResponse(der, make([]byte, 32), crypto.SHA256, big.NewInt(1))
	})
}
