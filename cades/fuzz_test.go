package cades

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse feeds arbitrary bytes to Parse and to every method a verifier calls on the result.
// Seeds: testdata/fuzz/FuzzParse (our RSA-PSS and ECDSA signatures, openssl attached BER and
// SHA-1 signatures, an openssl timestamp token).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignerCount) {
				t.Fatalf("untyped error: %v", err)
			}
			if p != nil && !errors.Is(err, ErrSignerCount) {
				t.Fatalf("result returned with error %v", err)
			}
			if p == nil {
				return
			}
		}
		if !bytes.HasPrefix(data, p.Raw) || len(p.Raw) == 0 {
			t.Fatalf("Raw is not a prefix of the input")
		}
		for _, c := range data[len(p.Raw):] {
			if c != 0 {
				t.Fatalf("non-zero trailing data accepted")
			}
		}
		digest := make([]byte, 64)
		if h := p.DigestAlgorithm(); h.Available() {
			digest = digest[:h.Size()]
		}
		_ = p.VerifySignature(digest)
		for _, c := range p.Certificates {
			_ = p.CheckSigningCertificate(c)
			_ = p.VerifySignatureWith(c, digest)
		}
		if _, err := p.SignerCertificate(); err == nil && p.Signer == nil {
			t.Fatal("signer certificate without a signer")
		}
	})
}

// FuzzBERToDER checks the BER rewriter terminates, and that its output is a fixed point.
func FuzzBERToDER(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		out, rest, err := berToDER(data)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if len(rest) > len(data) || !bytes.HasSuffix(data, rest) {
			t.Fatal("rest is not a suffix of the input")
		}
		again, rest2, err := berToDER(out)
		if err != nil || len(rest2) != 0 || !bytes.Equal(again, out) {
			t.Fatalf("output is not a fixed point: %v", err)
		}
	})
}
