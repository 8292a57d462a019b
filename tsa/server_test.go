package tsa

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/digitorus/timestamp"
)

func openssl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	return string(out), err
}

func postQuery(t *testing.T, url string, query []byte) []byte {
	t.Helper()
	resp, err := http.Post(url, contentTypeQuery, bytes.NewReader(query))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != contentTypeReply {
		t.Fatalf("Content-Type = %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// TestOpenSSLVerifies has OpenSSL, a verifier we did not write, check both
// the full reply to an OpenSSL-made query and a token our client obtained.
func TestOpenSSLVerifies(t *testing.T) {
	for _, key := range []struct {
		name string
		k    func(t *testing.T) crypto.Signer
	}{
		{"RSA", func(*testing.T) crypto.Signer { return rsaKey() }},
		{"ECDSA", func(t *testing.T) crypto.Signer { return ecKey(t) }},
	} {
		t.Run(key.name, func(t *testing.T) {
			p := newTestPKI(t, key.k(t), profileTSA)
			ts := httptest.NewServer(p.server())
			defer ts.Close()

			dir := p.dir
			digest := digestOf(crypto.SHA256, "document bytes")
			hexDigest := hex.EncodeToString(digest)
			wrongHex := hex.EncodeToString(digestOf(crypto.SHA256, "other bytes"))
			root := filepath.Join(dir, "root.pem")
			chain := filepath.Join(dir, "chain.pem")

			// A query made by openssl, answered by our server.
			query := filepath.Join(dir, "req.tsq")
			if out, err := openssl(t, "ts", "-query", "-digest", hexDigest, "-sha256", "-cert", "-out", query); err != nil {
				t.Fatalf("openssl ts -query: %v\n%s", err, out)
			}
			q, err := os.ReadFile(query)
			if err != nil {
				t.Fatal(err)
			}
			reply := filepath.Join(dir, "resp.tsr")
			if err := os.WriteFile(reply, postQuery(t, ts.URL, q), 0o600); err != nil {
				t.Fatal(err)
			}

			// A token from our client.
			tok, err := (&Client{URL: ts.URL}).Timestamp(context.Background(), digest, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			token := filepath.Join(dir, "token.der")
			if err := os.WriteFile(token, tok.DER, 0o600); err != nil {
				t.Fatal(err)
			}

			tests := []struct {
				name string
				args []string
				ok   bool
			}{
				{"reply", []string{"-digest", hexDigest, "-in", reply}, true},
				{"reply against query", []string{"-queryfile", query, "-in", reply}, true},
				{"token", []string{"-digest", hexDigest, "-in", token, "-token_in"}, true},
				{"reply, wrong digest", []string{"-digest", wrongHex, "-in", reply}, false},
				{"token, wrong digest", []string{"-digest", wrongHex, "-in", token, "-token_in"}, false},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					args := append([]string{"ts", "-verify"}, tc.args...)
					args = append(args, "-CAfile", root, "-untrusted", chain)
					out, err := openssl(t, args...)
					if tc.ok && (err != nil || !strings.Contains(out, "Verification: OK")) {
						t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
					}
					if !tc.ok && (err == nil || !strings.Contains(out, "message imprint mismatch")) {
						t.Fatalf("openssl did not refuse the wrong digest for the imprint:\n%s", out)
					}
				})
			}

			// The reply must carry the ESSCertIDv2 attribute (RFC 5816).
			out, err := openssl(t, "cms", "-cmsout", "-print", "-inform", "DER", "-in", token)
			if err != nil {
				t.Fatalf("openssl cms -print: %v\n%s", err, out)
			}
			if !strings.Contains(out, "id-smime-aa-signingCertificateV2") {
				t.Errorf("token lacks signingCertificateV2:\n%s", out)
			}
		})
	}
}

func statusOf(t *testing.T, der []byte) pkiStatusInfo {
	t.Helper()
	var resp timeStampResp
	if err := unmarshalExact(der, &resp); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return resp.Status
}

func TestServerRejectsBadRequests(t *testing.T) {
	p := newTestPKI(t, ecKey(t), profileTSA)
	ts := httptest.NewServer(p.server())
	defer ts.Close()

	query := func(r timestamp.Request) []byte {
		der, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sha256Digest := digestOf(crypto.SHA256, "x")
	withVersion := func(v int) []byte {
		mi, _ := asn1.Marshal(messageImprint{HashAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidSHA256}, HashedMessage: sha256Digest})
		der, err := asn1.Marshal(timeStampReq{Version: v, MessageImprint: asn1.RawValue{FullBytes: mi}})
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name    string
		body    []byte
		failBit int
	}{
		{"not DER", []byte("hello"), failBadDataFormat},
		{"trailing data", append(query(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest}), 0), failBadDataFormat},
		{"SHA-1 imprint", query(timestamp.Request{HashAlgorithm: crypto.SHA1, HashedMessage: digestOf(crypto.SHA1, "x")}), failBadAlg},
		{"digest length wrong", query(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: []byte{1, 2}}), failBadDataFormat},
		{"other policy", query(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest, TSAPolicyOID: asn1.ObjectIdentifier{1, 2, 3}}), failUnacceptedPolicy},
		{"extension", query(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest,
			ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3}, Value: []byte{5, 0}}}}), failUnacceptedExtension},
		{"version 2", withVersion(2), failBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := statusOf(t, postQuery(t, ts.URL, tc.body))
			if st.Status != statusRejection {
				t.Fatalf("status = %d, want rejection", st.Status)
			}
			if st.FailInfo.At(tc.failBit) != 1 {
				t.Errorf("failInfo = %v, want bit %d", st, tc.failBit)
			}
			if len(st.StatusString) == 0 {
				t.Errorf("no statusString")
			}
		})
	}

	t.Run("without certReq no certificates", func(t *testing.T) {
		body := postQuery(t, ts.URL, query(timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sha256Digest}))
		var resp timeStampResp
		if err := unmarshalExact(body, &resp); err != nil || resp.Status.Status != statusGranted {
			t.Fatalf("status %v, err %v", resp.Status, err)
		}
		// The token is valid but carries no certificate, which ParseToken
		// requires for the signature check.
		if _, err := ParseToken(resp.TimeStampToken.FullBytes); err == nil || !strings.Contains(err.Error(), "not in the token") {
			t.Errorf("ParseToken = %v, want missing-certificate error", err)
		}
	})

	httpTests := []struct {
		name, method, ctype string
		body                []byte
		want                int
	}{
		{"GET", http.MethodGet, "", nil, http.StatusMethodNotAllowed},
		{"wrong content type", http.MethodPost, "text/plain", []byte("x"), http.StatusUnsupportedMediaType},
		{"huge body", http.MethodPost, contentTypeQuery, make([]byte, MaxRequestSize+1), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range httpTests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, ts.URL, bytes.NewReader(tc.body))
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("HTTP %d, want %d", resp.StatusCode, tc.want)
			}
		})
	}
}
