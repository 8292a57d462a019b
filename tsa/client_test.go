package tsa

import (
	"bytes"
	"context"
	"crypto"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"esign/outbound"
)

func digestOf(h crypto.Hash, s string) []byte {
	hh := h.New()
	hh.Write([]byte(s))
	return hh.Sum(nil)
}

func TestClientServerRoundTrip(t *testing.T) {
	tests := []struct {
		name       string
		key        func(t *testing.T) crypto.Signer
		signHash   crypto.Hash
		digestHash crypto.Hash
	}{
		{"RSA SHA-256", func(*testing.T) crypto.Signer { return rsaKey() }, 0, crypto.SHA256},
		{"RSA SHA-512 signature, SHA-384 imprint", func(*testing.T) crypto.Signer { return rsaKey() }, crypto.SHA512, crypto.SHA384},
		{"ECDSA SHA-256", func(t *testing.T) crypto.Signer { return ecKey(t) }, crypto.SHA256, crypto.SHA256},
		{"ECDSA SHA-384, SHA-512 imprint", func(t *testing.T) crypto.Signer { return ecKey(t) }, crypto.SHA384, crypto.SHA512},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPKI(t, tc.key(t), profileTSA)
			srv := p.server()
			srv.Hash = tc.signHash
			ts := httptest.NewServer(srv)
			defer ts.Close()

			c := &Client{URL: ts.URL, Roots: p.roots(), Policy: DevPolicy()}
			digest := digestOf(tc.digestHash, "hello "+tc.name)
			tok, err := c.Timestamp(context.Background(), digest, tc.digestHash)
			if err != nil {
				t.Fatalf("Timestamp: %v", err)
			}
			if !tok.Time.Equal(certAt) {
				t.Errorf("Time = %v, want %v", tok.Time, certAt)
			}
			if tok.Hash != tc.digestHash || !bytes.Equal(tok.HashedMessage, digest) {
				t.Errorf("imprint = %v %x", tok.Hash, tok.HashedMessage)
			}
			if !tok.Certificate.Equal(p.tsa) {
				t.Errorf("Certificate = %s", tok.Certificate.Subject)
			}
			if len(tok.Certificates) != 2 || !tok.Certificates[1].Equal(p.issuing) {
				t.Errorf("token carries %d certificates, want TSA + issuing CA", len(tok.Certificates))
			}
			if tok.Accuracy != time.Second {
				t.Errorf("Accuracy = %v", tok.Accuracy)
			}
			if !tok.Policy.Equal(DevPolicy()) {
				t.Errorf("Policy = %v", tok.Policy)
			}
			if tok.SerialNumber == nil || tok.SerialNumber.Sign() <= 0 || tok.SerialNumber.BitLen() > 160 {
				t.Errorf("SerialNumber = %v", tok.SerialNumber)
			}
			if err := tok.VerifyImprint(digest, tc.digestHash); err != nil {
				t.Errorf("VerifyImprint: %v", err)
			}
			wrong := bytes.Clone(digest)
			wrong[0] ^= 1
			if err := tok.VerifyImprint(wrong, tc.digestHash); !errors.Is(err, ErrImprintMismatch) {
				t.Errorf("VerifyImprint(wrong digest) = %v", err)
			}
			again, err := ParseToken(tok.DER)
			if err != nil {
				t.Fatalf("ParseToken(token.DER): %v", err)
			}
			if again.SerialNumber.Cmp(tok.SerialNumber) != 0 || !again.Time.Equal(tok.Time) {
				t.Errorf("reparsed token differs")
			}
		})
	}
}

func TestSerialNumbersUnique(t *testing.T) {
	p := newTestPKI(t, ecKey(t), profileTSA)
	ts := httptest.NewServer(p.server())
	defer ts.Close()
	c := &Client{URL: ts.URL}
	seen := map[string]bool{}
	for i := range 20 {
		tok, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "x"), crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if seen[tok.SerialNumber.String()] {
			t.Fatalf("serial %v repeated at request %d", tok.SerialNumber, i)
		}
		seen[tok.SerialNumber.String()] = true
	}
}

// tamperingServer answers like s but lets edit change the request the
// token is built from, imitating a broken or hostile TSA.
func tamperingServer(s *Server, edit func(*timeStampReq)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, _, err := s.parseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		edit(req)
		tok, err := s.issue(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		resp, _ := asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: statusGranted}, TimeStampToken: asn1.RawValue{FullBytes: tok}})
		w.Header().Set("Content-Type", contentTypeReply)
		w.Write(resp)
	})
}

func TestClientRejects(t *testing.T) {
	good := newTestPKI(t, ecKey(t), profileTSA)
	other := newTestPKI(t, ecKey(t), profileTSA)

	handlerFor := func(p *testPKI) http.Handler { return p.server() }
	tests := []struct {
		name    string
		handler func(t *testing.T) http.Handler
		client  func(c *Client)
		want    error
		msg     string
	}{
		{
			name: "wrong nonce",
			handler: func(*testing.T) http.Handler {
				return tamperingServer(good.server(), func(r *timeStampReq) { r.Nonce = new(big.Int).Add(r.Nonce, big.NewInt(1)) })
			},
			want: ErrBadResponse, msg: "nonce",
		},
		{
			name: "missing nonce",
			handler: func(*testing.T) http.Handler {
				return tamperingServer(good.server(), func(r *timeStampReq) { r.Nonce = nil })
			},
			want: ErrBadResponse, msg: "nonce",
		},
		{
			name: "wrong imprint",
			handler: func(*testing.T) http.Handler {
				return tamperingServer(good.server(), func(r *timeStampReq) {
					r.MessageImprint.FullBytes = bytes.Clone(r.MessageImprint.FullBytes)
					r.MessageImprint.FullBytes[len(r.MessageImprint.FullBytes)-1] ^= 0xff
				})
			},
			want: ErrImprintMismatch,
		},
		{
			name:    "TSA certificate without extendedKeyUsage",
			handler: func(t *testing.T) http.Handler { return newTestPKI(t, ecKey(t), profileNoEKU).server() },
			want:    ErrBadResponse, msg: "no extendedKeyUsage",
		},
		{
			name:    "TSA certificate with non-critical extendedKeyUsage",
			handler: func(t *testing.T) http.Handler { return newTestPKI(t, ecKey(t), profileNonCritical).server() },
			want:    ErrBadResponse, msg: "not critical",
		},
		{
			name:    "TSA certificate with extra extendedKeyUsage",
			handler: func(t *testing.T) http.Handler { return newTestPKI(t, ecKey(t), profileExtraEKU).server() },
			want:    ErrBadResponse, msg: "timeStamping alone",
		},
		{
			name:    "untrusted root",
			handler: func(*testing.T) http.Handler { return handlerFor(other) },
			client:  func(c *Client) { c.Roots = good.roots() },
			want:    ErrBadResponse, msg: "chain",
		},
		{
			name:    "unrequested policy",
			handler: func(*testing.T) http.Handler { return handlerFor(good) },
			client:  func(c *Client) { c.Policy = asn1.ObjectIdentifier{1, 2, 3, 4} },
			want:    ErrBadResponse, msg: "unacceptedPolicy",
		},
		{
			name: "HTTP 500",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) })
			},
			want: ErrUnavailable,
		},
		{
			name: "HTTP 429",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "slow down", http.StatusTooManyRequests) })
			},
			want: ErrUnavailable,
		},
		{
			name: "HTTP 403",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) })
			},
			want: ErrBadResponse, msg: "403",
		},
		{
			name: "waiting status",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", contentTypeReply)
					w.Write([]byte{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, statusWaiting})
				})
			},
			want: ErrBadResponse, msg: "waiting",
		},
		{
			name: "garbage reply",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", contentTypeReply)
					w.Write([]byte("not DER"))
				})
			},
			want: ErrBadResponse,
		},
		{
			name: "oversized reply",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", contentTypeReply)
					w.Write(make([]byte, MaxResponseSize+10))
				})
			},
			want: ErrBadResponse, msg: "exceeds",
		},
		{
			name: "wrong content type",
			handler: func(*testing.T) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "text/html")
					w.Write([]byte("<html>"))
				})
			},
			want: ErrBadResponse, msg: "content type",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.handler(t))
			defer ts.Close()
			c := &Client{URL: ts.URL}
			if tc.client != nil {
				tc.client(c)
			}
			_, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if tc.want == ErrBadResponse && errors.Is(err, ErrUnavailable) || tc.want == ErrUnavailable && errors.Is(err, ErrBadResponse) {
				t.Fatalf("err = %v is both unavailable and bad", err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %v, want it to mention %q", err, tc.msg)
			}
		})
	}
}

func TestClientUnreachable(t *testing.T) {
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close() // nothing listens there any more

	c := &Client{URL: url}
	_, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestClientContextCanceled(t *testing.T) {
	block := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(block)

	ctx, cancel := context.WithCancel(context.Background())
	c := &Client{URL: ts.URL}
	done := make(chan error, 1)
	go func() {
		_, err := c.Timestamp(ctx, digestOf(crypto.SHA256, "doc"), crypto.SHA256)
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want ErrUnavailable wrapping context.Canceled", err)
	}
}

func TestClientBasicAuth(t *testing.T) {
	p := newTestPKI(t, ecKey(t), profileTSA)
	srv := p.server()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, pw, ok := r.BasicAuth(); !ok || u != "alice" || pw != "s3cret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()

	c := &Client{URL: ts.URL, Username: "alice", Password: "s3cret"}
	if _, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256); err != nil {
		t.Fatalf("with credentials: %v", err)
	}
	c.Password = "wrong"
	if _, err := c.Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256); !errors.Is(err, ErrBadResponse) {
		t.Fatalf("with wrong password: err = %v, want ErrBadResponse", err)
	}
}

func TestClientArgumentErrors(t *testing.T) {
	c := &Client{URL: "http://127.0.0.1:1"}
	if _, err := c.Timestamp(context.Background(), []byte{1, 2, 3}, crypto.SHA256); err == nil || errors.Is(err, ErrUnavailable) {
		t.Errorf("short digest: err = %v", err)
	}
	if _, err := c.Timestamp(context.Background(), digestOf(crypto.SHA1, "x"), crypto.SHA1); err == nil {
		t.Errorf("SHA-1 accepted")
	}
	if _, err := (&Client{}).Timestamp(context.Background(), digestOf(crypto.SHA256, "x"), crypto.SHA256); err == nil {
		t.Errorf("empty URL accepted")
	}
}

// TestClientRedirectElsewhere checks that the configured TSA URL is
// trusted, but not as a way to somewhere else: a redirect to another
// port of the same machine is refused before any request reaches it.
func TestClientRedirectElsewhere(t *testing.T) {
	var hits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer other.Close()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/tsa", http.StatusTemporaryRedirect)
	}))
	defer ts.Close()
	_, err := (&Client{URL: ts.URL}).Timestamp(context.Background(), digestOf(crypto.SHA256, "doc"), crypto.SHA256)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, outbound.ErrNotAllowed) {
		t.Fatalf("err = %v, want ErrUnavailable and outbound.ErrNotAllowed", err)
	}
	if hits.Load() != 0 {
		t.Fatalf("the other server got %d requests", hits.Load())
	}
}

// TestClientGivenNonce: a caller's nonce is the request's, and the token
// carries it; one the request cannot carry is refused before sending.
func TestClientGivenNonce(t *testing.T) {
	p := newTestPKI(t, rsaKey(), profileTSA)
	ts := httptest.NewServer(p.server())
	defer ts.Close()
	c := &Client{URL: ts.URL, Roots: p.roots()}
	digest := digestOf(crypto.SHA256, "nonce")
	huge := new(big.Int).Lsh(big.NewInt(1), MaxNonceBits)
	tests := []struct {
		name  string
		nonce *big.Int
		ok    bool
	}{
		{"small", big.NewInt(0x1234567890), true},
		{"64 bits", new(big.Int).SetUint64(0xfedcba9876543210), true},
		{"zero", big.NewInt(0), false},
		{"negative", big.NewInt(-5), false},
		{"too long", huge, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := c.TimestampWith(context.Background(), digest, crypto.SHA256, TimestampOptions{Nonce: tc.nonce})
			if !tc.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := ParseToken(tok.DER)
			if err != nil {
				t.Fatal(err)
			}
			if parsed.Nonce == nil || parsed.Nonce.Cmp(tc.nonce) != 0 {
				t.Errorf("token nonce %v, want %v", parsed.Nonce, tc.nonce)
			}
		})
	}
}
