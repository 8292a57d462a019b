package cades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
)

type keyCase struct {
	name string
	key  crypto.Signer
	pss  bool
}

// testKeyCases generates one key per type; RSA generation is slow, so callers share them.
func testKeyCases(t testing.TB) []keyCase {
	rsaKey := newRSAKey(t, 2048)
	return []keyCase{
		{"RSA-PKCS1v15", rsaKey, false},
		{"RSA-PSS", rsaKey, true},
		{"ECDSA-P256", newECKey(t, elliptic.P256()), false},
		{"ECDSA-P384", newECKey(t, elliptic.P384()), false},
		{"ECDSA-P521", newECKey(t, elliptic.P521()), false},
	}
}

var testHashes = []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512}

func TestSignVerifiesWithOpenSSL(t *testing.T) {
	content := []byte("%PDF-1.7 byte range content that the signature covers\n")
	for _, kc := range testKeyCases(t) {
		pki := newTestPKI(t, kc.key, 3)
		for _, h := range testHashes {
			t.Run(fmt.Sprintf("%s/%v", kc.name, h), func(t *testing.T) {
				opts := SignOptions{Hash: h, PSS: kc.pss}
				sd, der := signDER(t, pki, content, opts)

				if out, err := opensslVerify(t, pki, der, content); err != nil {
					t.Fatalf("openssl cms -verify: %v\n%s", err, out)
				}
				printed := opensslPrint(t, pki, der)
				if strings.Contains(printed, "signingTime") {
					t.Errorf("signature has a signingTime attribute:\n%s", printed)
				}
				if !strings.Contains(printed, "signingCertificateV2") {
					t.Errorf("signature lacks signingCertificateV2:\n%s", printed)
				}

				p, err := Parse(der)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				checkOwnSignature(t, p, pki, sd, opts)
				if err := p.VerifySignature(digestOf(h, content)); err != nil {
					t.Errorf("VerifySignature: %v", err)
				}
				if err := p.CheckSigningCertificate(pki.chain[0]); err != nil {
					t.Errorf("CheckSigningCertificate: %v", err)
				}

				t.Run("tampered content", func(t *testing.T) {
					bad := bytes.Clone(content)
					bad[len(bad)/2] ^= 0x01
					if out, err := opensslVerify(t, pki, der, bad); err == nil || !strings.Contains(out, "content verify error") {
						t.Errorf("openssl did not reject tampered content:\n%s", out)
					}
					err := p.VerifySignature(digestOf(h, bad))
					if !errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSignatureInvalid) {
						t.Errorf("VerifySignature = %v, want only ErrDigestMismatch", err)
					}
				})
				t.Run("tampered signature", func(t *testing.T) {
					bad := bytes.Clone(der)
					i := bytes.Index(bad, sd.SignatureValue())
					if i < 0 {
						t.Fatal("signature value not found in DER")
					}
					bad[i+len(sd.SignatureValue())/2] ^= 0x01
					if out, err := opensslVerify(t, pki, bad, content); err == nil || !strings.Contains(out, "CMS_SignerInfo_verify:verification failure") {
						t.Errorf("openssl did not reject the tampered signature:\n%s", out)
					}
					bp, err := Parse(bad)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					err = bp.VerifySignature(digestOf(h, content))
					if !errors.Is(err, ErrSignatureInvalid) || errors.Is(err, ErrDigestMismatch) {
						t.Errorf("VerifySignature = %v, want only ErrSignatureInvalid", err)
					}
				})
				t.Run("tampered signed attribute", func(t *testing.T) {
					// Flip a bit of the ESS certificate hash: the signature must break.
					bad := bytes.Clone(der)
					i := bytes.Index(bad, p.Signer.SigningCertificateV2.CertHash)
					bad[i] ^= 0x80
					bp, err := Parse(bad)
					if err != nil {
						t.Fatalf("Parse: %v", err)
					}
					if err := bp.VerifySignature(digestOf(h, content)); !errors.Is(err, ErrSignatureInvalid) {
						t.Errorf("VerifySignature = %v, want ErrSignatureInvalid", err)
					}
					if err := bp.CheckSigningCertificate(pki.chain[0]); !errors.Is(err, ErrSigningCertMismatch) {
						t.Errorf("CheckSigningCertificate = %v, want ErrSigningCertMismatch", err)
					}
				})
			})
		}
	}
}

// checkOwnSignature asserts the structure Sign promises.
func checkOwnSignature(t *testing.T, p *Parsed, pki *testPKI, sd *SignedData, opts SignOptions) {
	t.Helper()
	h, _ := opts.hash()
	si := p.Signer
	if p.Version != 1 || si.Version != 1 {
		t.Errorf("versions = %d/%d, want 1/1", p.Version, si.Version)
	}
	if !p.Detached || !p.EncapContentType.Equal(OIDData) {
		t.Errorf("encapContentInfo: detached %v type %v", p.Detached, p.EncapContentType)
	}
	if len(p.DigestAlgorithms) != 1 || !p.DigestAlgorithms[0].Equal(si.DigestAlgorithmOID) || si.DigestAlgorithm != h {
		t.Errorf("digest algorithms %v / %v, want %v", p.DigestAlgorithms, si.DigestAlgorithmOID, h)
	}
	if len(p.Certificates) != len(pki.chain) {
		t.Fatalf("%d certificates, want %d", len(p.Certificates), len(pki.chain))
	}
	for i, c := range p.Certificates {
		if !c.Equal(pki.chain[i]) {
			t.Errorf("certificate %d is not chain[%d]", i, i)
		}
	}
	if si.SubjectKeyID != nil || si.SerialNumber.Cmp(pki.chain[0].SerialNumber) != 0 || !bytes.Equal(si.IssuerRaw, pki.chain[0].RawIssuer) {
		t.Errorf("signer identifier does not name the leaf")
	}
	var want x509.SignatureAlgorithm
	switch {
	case opts.PSS:
		want = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSAPSS, crypto.SHA384: x509.SHA384WithRSAPSS, crypto.SHA512: x509.SHA512WithRSAPSS}[h]
		if si.PSSSaltLength != h.Size() {
			t.Errorf("PSS salt length %d, want %d", si.PSSSaltLength, h.Size())
		}
	case pki.chain[0].PublicKeyAlgorithm == x509.RSA:
		want = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.SHA256WithRSA, crypto.SHA384: x509.SHA384WithRSA, crypto.SHA512: x509.SHA512WithRSA}[h]
	default:
		want = map[crypto.Hash]x509.SignatureAlgorithm{crypto.SHA256: x509.ECDSAWithSHA256, crypto.SHA384: x509.ECDSAWithSHA384, crypto.SHA512: x509.ECDSAWithSHA512}[h]
	}
	if si.SignatureAlgorithm != want {
		t.Errorf("signature algorithm %v, want %v", si.SignatureAlgorithm, want)
	}
	if si.SigningTime != nil {
		t.Error("signing-time present")
	}
	if !si.ContentType.Equal(OIDData) || len(si.MessageDigest) != h.Size() {
		t.Errorf("content-type %v, message-digest %d bytes", si.ContentType, len(si.MessageDigest))
	}
	if len(si.OtherSignedAttrs) != 0 || si.SigningCertificate != nil {
		t.Errorf("unexpected signed attributes: %v", si.OtherSignedAttrs)
	}
	ess := si.SigningCertificateV2
	if ess == nil || ess.HashAlgorithm != h || ess.IssuerSerial == nil ||
		ess.IssuerSerial.SerialNumber.Cmp(pki.chain[0].SerialNumber) != 0 ||
		len(ess.IssuerSerial.DirectoryNames) != 1 || !bytes.Equal(ess.IssuerSerial.DirectoryNames[0], pki.chain[0].RawIssuer) {
		t.Fatalf("signing-certificate-v2 = %+v", ess)
	}
	// DER: a SHA-256 hashAlgorithm is the DEFAULT and must be absent; others must be present.
	if got := bytes.Contains(si.SignedAttrsRaw, algorithmsFor(h).digest); got != (h != crypto.SHA256) {
		t.Errorf("ESSCertIDv2 hashAlgorithm present = %v for %v", got, h)
	}
	// DER SET OF order of the signed attributes.
	var set asn1.RawValue
	if _, err := asn1.Unmarshal(si.SignedAttrsSet, &set); err != nil {
		t.Fatal(err)
	}
	var prev []byte
	for r := (reader{set.Bytes}); !r.empty(); {
		rv, err := r.next("attr")
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && !derSetLess(prev, rv.FullBytes) {
			t.Errorf("signed attributes not in DER order")
		}
		prev = rv.FullBytes
	}
	if !bytes.Equal(si.Signature, sd.SignatureValue()) {
		t.Error("parsed signature differs from SignatureValue")
	}
	if si.SignedAttrsRaw[0] != tagCtx0 || si.SignedAttrsSet[0] != tagSet || !bytes.Equal(si.SignedAttrsRaw[1:], si.SignedAttrsSet[1:]) {
		t.Error("SignedAttrsRaw/SignedAttrsSet tags wrong")
	}
}

func TestMaxSize(t *testing.T) {
	content := []byte("content")
	for _, kc := range testKeyCases(t) {
		for chainLen := 1; chainLen <= 4; chainLen++ {
			pki := newTestPKI(t, kc.key, chainLen)
			for _, h := range testHashes {
				t.Run(fmt.Sprintf("%s/chain%d/%v", kc.name, chainLen, h), func(t *testing.T) {
					opts := SignOptions{Hash: h, PSS: kc.pss}
					max, err := MaxSize(kc.key.Public(), pki.chain, opts, 0)
					if err != nil {
						t.Fatal(err)
					}
					// ECDSA values vary in length; sign a few times to see the spread.
					runs := 1
					if !strings.HasPrefix(kc.name, "RSA") {
						runs = 8
					}
					for i := 0; i < runs; i++ {
						_, der := signDER(t, pki, content, opts)
						checkBound(t, kc.name, max, len(der))
					}

					token := fakeToken(t, 4000+chainLen)
					maxTS, err := MaxSize(kc.key.Public(), pki.chain, opts, SignatureTimestampAttrSize(len(token)))
					if err != nil {
						t.Fatal(err)
					}
					sd, _ := signDER(t, pki, content, opts)
					if err := sd.AddSignatureTimestamp(token); err != nil {
						t.Fatal(err)
					}
					der, err := sd.Marshal()
					if err != nil {
						t.Fatal(err)
					}
					checkBound(t, kc.name, maxTS, len(der))
				})
			}
		}
	}
}

func checkBound(t *testing.T, name string, max, got int) {
	t.Helper()
	switch {
	case got > max:
		t.Errorf("size %d exceeds MaxSize %d", got, max)
	case strings.HasPrefix(name, "RSA") && got != max:
		t.Errorf("RSA size %d, MaxSize %d: want exact", got, max)
	case max-got > 16:
		t.Errorf("size %d, MaxSize %d: bound too loose", got, max)
	}
}

// fakeToken is a DER SEQUENCE of about n bytes standing in for an RFC 3161 token.
func fakeToken(t testing.TB, n int) []byte {
	t.Helper()
	b, err := asn1.Marshal(struct {
		Type    asn1.ObjectIdentifier
		Payload []byte `asn1:"explicit,tag:0"`
	}{OIDSignedData, bytes.Repeat([]byte{0x5a}, n)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAddSignatureTimestamp(t *testing.T) {
	content := []byte("timestamped content")
	pki := newTestPKI(t, newECKey(t, elliptic.P256()), 2)
	sd, _ := signDER(t, pki, content, SignOptions{})
	tokens := [][]byte{fakeToken(t, 300), fakeToken(t, 70000)}
	for _, tok := range tokens {
		if err := sd.AddSignatureTimestamp(tok); err != nil {
			t.Fatalf("AddSignatureTimestamp: %v", err)
		}
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := opensslVerify(t, pki, der, content); err != nil {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
	if out := opensslPrint(t, pki, der); !strings.Contains(out, "id-smime-aa-timeStampToken") {
		t.Errorf("openssl does not show the timestamp attribute:\n%s", out)
	}
	p, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Signer.SignatureTimestamps) != 2 {
		t.Fatalf("%d timestamps parsed, want 2", len(p.Signer.SignatureTimestamps))
	}
	for _, tok := range tokens { // DER SET OF order is by encoding, not insertion
		found := false
		for _, got := range p.Signer.SignatureTimestamps {
			found = found || bytes.Equal(got, tok)
		}
		if !found {
			t.Errorf("token of %d bytes not returned", len(tok))
		}
	}
	if err := p.VerifySignature(digestOf(crypto.SHA256, content)); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}

	for name, bad := range map[string][]byte{
		"empty":         nil,
		"not DER":       {0x30, 0x80, 0x00, 0x00},
		"trailing data": append(fakeToken(t, 10), 0),
		"not SEQUENCE":  {0x04, 0x01, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			if err := sd.AddSignatureTimestamp(bad); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// countingSigner counts calls to the key it wraps.
type countingSigner struct {
	crypto.Signer
	calls atomic.Int32
}

func (c *countingSigner) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	c.calls.Add(1)
	return c.Signer.Sign(r, d, o)
}

func TestSignHonoursContext(t *testing.T) {
	pki := newTestPKI(t, newECKey(t, elliptic.P256()), 1)
	cs := &countingSigner{Signer: pki.key}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Sign(ctx, make([]byte, 32), cs, pki.chain, SignOptions{})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Sign = %v, want context.Canceled", err)
	}
	if n := cs.calls.Load(); n != 0 {
		t.Errorf("signer called %d times after cancellation", n)
	}
	if _, err := Sign(context.Background(), make([]byte, 32), cs, pki.chain, SignOptions{}); err != nil || cs.calls.Load() != 1 {
		t.Errorf("Sign = %v with %d signer calls, want success with 1", err, cs.calls.Load())
	}
}

func TestSignErrors(t *testing.T) {
	ecKey := newECKey(t, elliptic.P256())
	pki := newTestPKI(t, ecKey, 2)
	other := newTestPKI(t, newECKey(t, elliptic.P256()), 1)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPKI := newTestPKI(t, edKey, 1)
	d32 := make([]byte, 32)
	tests := []struct {
		name   string
		digest []byte
		signer crypto.Signer
		chain  []*x509.Certificate
		opts   SignOptions
		want   error
	}{
		{"key mismatch", d32, ecKey, other.chain, SignOptions{}, ErrKeyMismatch},
		{"PSS with ECDSA", d32, ecKey, pki.chain, SignOptions{PSS: true}, ErrUnsupportedKey},
		{"SHA-1", make([]byte, 20), ecKey, pki.chain, SignOptions{Hash: crypto.SHA1}, ErrUnsupportedAlgorithm},
		{"Ed25519 key", d32, edKey, edPKI.chain, SignOptions{}, ErrUnsupportedKey},
		{"digest length", make([]byte, 48), ecKey, pki.chain, SignOptions{}, nil},
		{"empty chain", d32, ecKey, nil, SignOptions{}, nil},
		{"nil certificate", d32, ecKey, []*x509.Certificate{pki.chain[0], nil}, SignOptions{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sd, err := Sign(context.Background(), tt.digest, tt.signer, tt.chain, tt.opts)
			if err == nil || sd != nil {
				t.Fatalf("Sign succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Sign = %v, want %v", err, tt.want)
			}
			if tt.want != nil {
				if _, err := MaxSize(tt.signer.Public(), tt.chain, tt.opts, 0); !errors.Is(err, tt.want) {
					t.Errorf("MaxSize = %v, want %v", err, tt.want)
				}
			}
		})
	}
	if _, err := MaxSize(ecKey.Public(), pki.chain, SignOptions{}, -1); err == nil {
		t.Error("MaxSize accepted a negative unsigned attribute size")
	}
	if _, err := (&SignedData{}).Marshal(); err == nil {
		t.Error("Marshal of an unsigned SignedData succeeded")
	}
}

func TestSignDropsDuplicateCertificates(t *testing.T) {
	pki := newTestPKI(t, newECKey(t, elliptic.P256()), 3)
	chain := []*x509.Certificate{pki.chain[0], pki.chain[1], pki.chain[0], pki.chain[2], pki.chain[1]}
	sd, err := Sign(context.Background(), make([]byte, 32), pki.key, chain, SignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	der, err := sd.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Certificates) != 3 {
		t.Fatalf("%d certificates, want 3", len(p.Certificates))
	}
	for i, c := range p.Certificates {
		if !c.Equal(pki.chain[i]) {
			t.Errorf("certificate %d out of order", i)
		}
	}
}

// TestAlgorithmIdentifiers checks the PSS and PKCS#1 AlgorithmIdentifiers against the ones
// crypto/x509 writes into certificates it signs.
func TestAlgorithmIdentifiers(t *testing.T) {
	key := newRSAKey(t, 2048)
	for _, tt := range []struct {
		alg  x509.SignatureAlgorithm
		want []byte
	}{
		{x509.SHA256WithRSAPSS, algsSHA256.pss},
		{x509.SHA384WithRSAPSS, algsSHA384.pss},
		{x509.SHA512WithRSAPSS, algsSHA512.pss},
		{x509.SHA256WithRSA, algsSHA256.rsa},
		{x509.SHA384WithRSA, algsSHA384.rsa},
		{x509.SHA512WithRSA, algsSHA512.rsa},
	} {
		t.Run(tt.alg.String(), func(t *testing.T) {
			tmpl := caTemplate("alg")
			tmpl.SignatureAlgorithm = tt.alg
			c := issueCert(t, tmpl, nil, key.Public(), key)
			var cert struct {
				TBS    asn1.RawValue
				SigAlg asn1.RawValue
				Sig    asn1.BitString
			}
			if _, err := asn1.Unmarshal(c.Raw, &cert); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(cert.SigAlg.FullBytes, tt.want) {
				t.Errorf("got  %x\nwant %x", tt.want, cert.SigAlg.FullBytes)
			}
		})
	}
}
