package cades

import (
	"bytes"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// opensslSign signs data with `openssl cms -sign` using the leaf of pki; extra are more flags.
func opensslSign(t *testing.T, pki *testPKI, data []byte, md string, extra ...string) []byte {
	t.Helper()
	var chainPEM []byte
	for _, c := range pki.chain[1:] {
		chainPEM = append(chainPEM, pemCert(c)...)
	}
	out := filepath.Join(pki.dir, "openssl.der")
	args := []string{"cms", "-sign", "-binary", "-outform", "DER", "-md", md,
		"-in", writeFile(t, pki.dir, "in.bin", data),
		"-signer", writeFile(t, pki.dir, "leaf.pem", pemCert(pki.chain[0])),
		"-inkey", writeFile(t, pki.dir, "leaf.key", pemKey(t, pki.key)),
		"-out", out}
	if len(chainPEM) > 0 {
		args = append(args, "-certfile", writeFile(t, pki.dir, "chain.pem", chainPEM))
	}
	args = append(args, extra...)
	if o, err := openssl(t, args...); err != nil {
		t.Fatalf("openssl cms -sign %v: %v\n%s", extra, err, o)
	}
	der, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestParseOpenSSLSignatures(t *testing.T) {
	data := []byte("content signed by openssl, as in an adbe.pkcs7.detached PDF\n")
	rsaPKI := newTestPKI(t, newRSAKey(t, 2048), 3)
	ecPKI := newTestPKI(t, newECKey(t, elliptic.P384()), 2)
	tests := []struct {
		name        string
		pki         *testPKI
		md          string
		hash        crypto.Hash
		flags       []string
		attached    bool
		ber         bool
		noAttrs     bool
		keyID       bool
		noCerts     bool
		ess         bool
		wantSigAlg  x509.SignatureAlgorithm
		wantPSSSalt int
	}{
		{name: "detached", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, wantSigAlg: x509.SHA256WithRSA},
		{name: "attached", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-nodetach"}, attached: true, wantSigAlg: x509.SHA256WithRSA},
		{name: "attached BER stream", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-nodetach", "-stream"}, attached: true, ber: true, wantSigAlg: x509.SHA256WithRSA},
		// openssl -stream writes an attached signature whatever -nodetach says.
		{name: "BER stream SHA-384", pki: rsaPKI, md: "sha384", hash: crypto.SHA384, flags: []string{"-stream"}, attached: true, ber: true, wantSigAlg: x509.SHA384WithRSA},
		{name: "subject key identifier", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-keyid"}, keyID: true, wantSigAlg: x509.SHA256WithRSA},
		{name: "no signed attributes", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-noattr"}, noAttrs: true, wantSigAlg: x509.SHA256WithRSA},
		{name: "SHA-1 no signed attributes", pki: rsaPKI, md: "sha1", hash: crypto.SHA1, flags: []string{"-noattr"}, noAttrs: true, wantSigAlg: x509.SHA1WithRSA},
		{name: "PSS max salt", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-keyopt", "rsa_padding_mode:pss"}, wantSigAlg: x509.UnknownSignatureAlgorithm, wantPSSSalt: 256 - 32 - 2},
		{name: "PSS digest salt", pki: rsaPKI, md: "sha512", hash: crypto.SHA512, flags: []string{"-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:digest"}, wantSigAlg: x509.SHA512WithRSAPSS, wantPSSSalt: 64},
		{name: "CAdES ESS", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-cades"}, ess: true, wantSigAlg: x509.SHA256WithRSA},
		{name: "no certificates", pki: rsaPKI, md: "sha256", hash: crypto.SHA256, flags: []string{"-nocerts"}, noCerts: true, wantSigAlg: x509.SHA256WithRSA},
		{name: "ECDSA P-384", pki: ecPKI, md: "sha384", hash: crypto.SHA384, flags: []string{"-cades"}, ess: true, wantSigAlg: x509.ECDSAWithSHA384},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der := opensslSign(t, tt.pki, data, tt.md, tt.flags...)
			p, err := Parse(der)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			si := p.Signer
			if p.BER != tt.ber || !bytes.Equal(p.Raw, der) {
				t.Errorf("BER = %v (want %v), Raw is input: %v", p.BER, tt.ber, bytes.Equal(p.Raw, der))
			}
			if p.Detached == tt.attached || !p.EncapContentType.Equal(OIDData) {
				t.Errorf("Detached = %v, type %v", p.Detached, p.EncapContentType)
			}
			if tt.attached && !bytes.Equal(p.EncapContent, data) {
				t.Errorf("EncapContent = %q", p.EncapContent)
			}
			if si.DigestAlgorithm != tt.hash || si.SignatureAlgorithm != tt.wantSigAlg || si.PSSSaltLength != tt.wantPSSSalt {
				t.Errorf("algorithms %v / %v / salt %d, want %v / %v / %d", si.DigestAlgorithm, si.SignatureAlgorithm, si.PSSSaltLength, tt.hash, tt.wantSigAlg, tt.wantPSSSalt)
			}
			if tt.noAttrs != (si.SignedAttrsRaw == nil) {
				t.Errorf("signed attributes present = %v", si.SignedAttrsRaw != nil)
			}
			if !tt.noAttrs {
				// openssl always adds signing-time, as adbe.pkcs7.detached signers do.
				if si.SigningTime == nil || time.Since(*si.SigningTime).Abs() > 24*time.Hour {
					t.Errorf("SigningTime = %v", si.SigningTime)
				}
				if len(si.OtherSignedAttrs) == 0 { // S/MIME capabilities
					t.Error("other signed attributes not kept")
				}
			}
			if (si.SubjectKeyID != nil) != tt.keyID || (si.SerialNumber != nil) == tt.keyID {
				t.Errorf("sid: SKI %x, serial %v", si.SubjectKeyID, si.SerialNumber)
			}
			wantCerts := len(tt.pki.chain)
			if tt.noCerts { // -nocerts leaves out the signer's certificate only
				wantCerts--
			}
			if len(p.Certificates) != wantCerts || len(p.CertificateErrors) != 0 {
				t.Errorf("%d certificates (errors %v), want %d", len(p.Certificates), p.CertificateErrors, wantCerts)
			}

			digest := digestOf(tt.hash, data)
			leaf := tt.pki.chain[0]
			if tt.noCerts {
				if err := p.VerifySignature(digest); !errors.Is(err, ErrNoSignerCert) {
					t.Errorf("VerifySignature = %v, want ErrNoSignerCert", err)
				}
				if err := p.VerifySignatureWith(leaf, digest); err != nil {
					t.Errorf("VerifySignatureWith: %v", err)
				}
			} else {
				if c, err := p.SignerCertificate(); err != nil || !c.Equal(leaf) {
					t.Errorf("SignerCertificate = %v, %v", c, err)
				}
				if err := p.VerifySignature(digest); err != nil {
					t.Errorf("VerifySignature: %v", err)
				}
			}

			// With signed attributes a wrong digest is a HASH_FAILURE; without, the signature
			// itself covers the content digest.
			other := digestOf(tt.hash, []byte("other content"))
			err = p.VerifySignatureWith(leaf, other)
			if tt.noAttrs {
				if !errors.Is(err, ErrSignatureInvalid) || errors.Is(err, ErrDigestMismatch) {
					t.Errorf("VerifySignatureWith(other) = %v, want ErrSignatureInvalid", err)
				}
			} else if !errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSignatureInvalid) {
				t.Errorf("VerifySignatureWith(other) = %v, want ErrDigestMismatch", err)
			}

			err = p.CheckSigningCertificate(leaf)
			if tt.ess {
				if err != nil || si.SigningCertificateV2 == nil {
					t.Errorf("CheckSigningCertificate = %v (v2 %v)", err, si.SigningCertificateV2)
				}
				if err := p.CheckSigningCertificate(tt.pki.chain[1]); !errors.Is(err, ErrSigningCertMismatch) {
					t.Errorf("CheckSigningCertificate(issuer) = %v, want ErrSigningCertMismatch", err)
				}
			} else if !errors.Is(err, ErrNoSigningCertAttr) {
				t.Errorf("CheckSigningCertificate = %v, want ErrNoSigningCertAttr", err)
			}
		})
	}
}

// opensslTimestamp has `openssl ts -reply` timestamp data and returns the token and TSA certificate.
func opensslTimestamp(t testing.TB, data []byte) ([]byte, *x509.Certificate) {
	t.Helper()
	tsaKey := newECKey(t, elliptic.P256())
	dir := t.TempDir()
	// openssl ts needs a TSA certificate with the critical timeStamping extended key usage;
	// crypto/x509 marks extended key usage non-critical, so add the extension by hand.
	eku := mustMarshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	tmpl := &x509.Certificate{
		Subject:         pkix.Name{CommonName: "Test TSA"},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	rootKey := newECKey(t, elliptic.P256())
	root := issueCert(t, caTemplate("TSA Root"), nil, rootKey.Public(), rootKey)
	tsa := issueCert(t, tmpl, root, tsaKey.Public(), rootKey)
	cnf := fmt.Sprintf(`[ tsa ]
default_tsa = tsa1
[ tsa1 ]
serial = %[1]s/serial
crypto_device = builtin
signer_cert = %[1]s/tsa.pem
signer_key = %[1]s/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256
accuracy = secs:1
ess_cert_id_alg = sha256
`, dir)
	writeFile(t, dir, "serial", []byte("01\n"))
	writeFile(t, dir, "tsa.pem", pemCert(tsa))
	writeFile(t, dir, "tsa.key", pemKey(t, tsaKey))
	writeFile(t, dir, "ts.cnf", []byte(cnf))
	dataPath := writeFile(t, dir, "data.bin", data)
	if o, err := openssl(t, "ts", "-query", "-data", dataPath, "-sha256", "-cert", "-out", dir+"/req.tsq"); err != nil {
		t.Fatalf("ts -query: %v\n%s", err, o)
	}
	if o, err := openssl(t, "ts", "-reply", "-config", dir+"/ts.cnf", "-queryfile", dir+"/req.tsq", "-token_out", "-out", dir+"/token.der"); err != nil {
		t.Fatalf("ts -reply: %v\n%s", err, o)
	}
	token, err := os.ReadFile(dir + "/token.der")
	if err != nil {
		t.Fatal(err)
	}
	return token, tsa
}

// TestParseTimestampToken parses an RFC 3161 token made by `openssl ts -reply`.
func TestParseTimestampToken(t *testing.T) {
	data := []byte("signature value to be timestamped")
	token, tsa := opensslTimestamp(t, data)

	p, err := Parse(token)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !p.EncapContentType.Equal(OIDTSTInfo) || p.Detached || p.Signer.SigningCertificateV2 == nil {
		t.Fatalf("type %v detached %v ESS %v", p.EncapContentType, p.Detached, p.Signer.SigningCertificateV2)
	}
	var tst struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint struct {
			Alg    pkix.AlgorithmIdentifier
			Hashed []byte
		}
		Rest asn1.RawContent `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(p.EncapContent, &tst); err != nil {
		t.Fatalf("TSTInfo: %v", err)
	}
	if !bytes.Equal(tst.MessageImprint.Hashed, digestOf(crypto.SHA256, data)) {
		t.Error("TSTInfo message imprint does not match")
	}
	if c, err := p.SignerCertificate(); err != nil || !c.Equal(tsa) {
		t.Fatalf("SignerCertificate = %v", err)
	}
	if err := p.VerifySignature(digestOf(p.DigestAlgorithm(), p.EncapContent)); err != nil {
		t.Errorf("VerifySignature: %v", err)
	}
	if err := p.CheckSigningCertificate(tsa); err != nil {
		t.Errorf("CheckSigningCertificate: %v", err)
	}
	// The content-type attribute is id-ct-TSTInfo; pretending the content is id-data must fail.
	p.EncapContentType = OIDData
	if err := p.VerifySignature(digestOf(p.DigestAlgorithm(), p.EncapContent)); !errors.Is(err, ErrContentTypeMismatch) {
		t.Errorf("VerifySignature with wrong content type = %v, want ErrContentTypeMismatch", err)
	}
}

func TestParseSignerCount(t *testing.T) {
	data := []byte("twice signed")
	pki := newTestPKI(t, newECKey(t, elliptic.P256()), 2)
	second := newTestPKI(t, newECKey(t, elliptic.P256()), 1)
	der := opensslSign(t, pki, data, "sha256", "-nodetach")
	in := writeFile(t, pki.dir, "one.der", der)
	out := filepath.Join(pki.dir, "two.der")
	if o, err := openssl(t, "cms", "-resign", "-inform", "DER", "-outform", "DER", "-in", in, "-out", out,
		"-signer", writeFile(t, second.dir, "s.pem", pemCert(second.chain[0])),
		"-inkey", writeFile(t, second.dir, "s.key", pemKey(t, second.key))); err != nil {
		t.Fatalf("openssl cms -resign: %v\n%s", err, o)
	}
	two, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}

	// A degenerate (certificates and CRL only) SignedData has no signer.
	caKey := newECKey(t, elliptic.P256())
	ca := issueCert(t, caTemplate("CRL CA"), nil, caKey.Public(), caKey)
	crl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: time.Now(), NextUpdate: time.Now().Add(time.Hour),
	}, ca, caKey)
	if err != nil {
		t.Fatal(err)
	}
	crlPath := writeFile(t, pki.dir, "crl.der", crl)
	degPath := filepath.Join(pki.dir, "deg.der")
	if o, err := openssl(t, "crl2pkcs7", "-inform", "DER", "-in", crlPath, "-certfile", pki.rootPEM, "-outform", "DER", "-out", degPath); err != nil {
		t.Fatalf("openssl crl2pkcs7: %v\n%s", err, o)
	}
	degenerate, err := os.ReadFile(degPath)
	if err != nil {
		t.Fatal(err)
	}

	for _, tt := range []struct {
		name    string
		der     []byte
		signers int
	}{
		{"two signers", two, 2},
		{"no signer", degenerate, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse(tt.der)
			if !errors.Is(err, ErrSignerCount) {
				t.Fatalf("Parse = %v, want ErrSignerCount", err)
			}
			if p == nil || len(p.Signers) != tt.signers || p.Signer != nil {
				t.Fatalf("partial result %+v", p)
			}
			if err := p.VerifySignature(make([]byte, 32)); !errors.Is(err, ErrSignerCount) {
				t.Errorf("VerifySignature = %v", err)
			}
			if err := p.CheckSigningCertificate(pki.chain[0]); !errors.Is(err, ErrSignerCount) {
				t.Errorf("CheckSigningCertificate = %v", err)
			}
			if _, err := p.SignerCertificate(); !errors.Is(err, ErrSignerCount) {
				t.Errorf("SignerCertificate = %v", err)
			}
			if p.DigestAlgorithm() != 0 {
				t.Error("DigestAlgorithm without a single signer")
			}
		})
	}
	p, _ := Parse(degenerate)
	if len(p.CRLs) != 1 || !bytes.Equal(p.CRLs[0], crl) || len(p.Certificates) != 1 || !p.Certificates[0].Equal(pki.root) {
		t.Errorf("degenerate SignedData: %d CRLs, %d certificates", len(p.CRLs), len(p.Certificates))
	}
}

func TestParseRejectsBadInput(t *testing.T) {
	pki := newTestPKI(t, newECKey(t, elliptic.P256()), 1)
	_, good := signDER(t, pki, []byte("x"), SignOptions{})
	dataCI := tlv(tagSequence, mustMarshal(OIDData), tlv(tagCtx0, tlv(tagOctetString, []byte("x"))))
	tests := map[string][]byte{
		"empty":             nil,
		"garbage":           []byte("not a CMS at all"),
		"truncated":         good[:len(good)/2],
		"trailing garbage":  append(bytes.Clone(good), 0, 0, 1),
		"id-data":           dataCI,
		"zero length":       {0x30, 0x00},
		"too large":         make([]byte, MaxParseSize+1),
		"unterminated BER":  {0x30, 0x80, 0x06, 0x01, 0x00},
		"deep BER":          bytes.Repeat([]byte{0x30, 0x80}, 200),
		"BER indef on prim": {0x30, 0x80, 0x04, 0x80, 0x00, 0x00, 0x00, 0x00},
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			p, err := Parse(in)
			if !errors.Is(err, ErrMalformed) || p != nil {
				t.Errorf("Parse = %v, %v; want ErrMalformed", p, err)
			}
		})
	}
	t.Run("trailing zero padding", func(t *testing.T) {
		padded := append(bytes.Clone(good), make([]byte, 1000)...)
		p, err := Parse(padded)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(p.Raw, good) {
			t.Error("Raw includes the padding")
		}
	})
}

// TestParseFields covers the fields no producer used above fills: OCSP and other revocation
// info, Adobe's revocation archival attribute and duplicate attributes.
func TestParseFields(t *testing.T) {
	ocsp := tlv(tagSequence, tlv(0x0a, []byte{0}))
	crl := tlv(tagSequence, []byte{tagInteger, 1, 7})
	other := tlv(tagSequence, []byte{tagNull, 0})
	t.Run("RevocationInfoChoices", func(t *testing.T) {
		var p Parsed
		in := bytes.Join([][]byte{
			crl,
			tlv(tagCtx1, mustMarshal(OIDRevInfoOCSPResponse), ocsp),
			tlv(tagCtx1, mustMarshal(asn1.ObjectIdentifier{1, 2, 3}), other),
		}, nil)
		if err := p.parseRevocationInfo(in); err != nil {
			t.Fatal(err)
		}
		if len(p.CRLs) != 1 || !bytes.Equal(p.CRLs[0], crl) || len(p.OCSPResponses) != 1 || !bytes.Equal(p.OCSPResponses[0], ocsp) ||
			len(p.OtherRevocation) != 1 || !bytes.Equal(p.OtherRevocation[0].Info, other) {
			t.Errorf("got %+v", p)
		}
		if err := p.parseRevocationInfo([]byte{0x02, 0x01, 0x00}); !errors.Is(err, ErrMalformed) {
			t.Errorf("INTEGER accepted as revocation info: %v", err)
		}
	})
	t.Run("adbe-revocationInfoArchival", func(t *testing.T) {
		v := tlv(tagSequence, tlv(tagCtx0, tlv(tagSequence, crl, crl)), tlv(tagCtx1, tlv(tagSequence, ocsp)))
		ria, err := parseRevocationInfoArchival(v)
		if err != nil {
			t.Fatal(err)
		}
		if len(ria.CRLs) != 2 || len(ria.OCSPResponses) != 1 || !bytes.Equal(ria.OCSPResponses[0], ocsp) {
			t.Errorf("got %+v", ria)
		}
	})
	t.Run("signed attributes", func(t *testing.T) {
		attr := func(oid asn1.ObjectIdentifier, values ...[]byte) []byte {
			return tlv(tagSequence, mustMarshal(oid), tlv(tagSet, values...))
		}
		md := tlv(tagOctetString, make([]byte, 32))
		tests := []struct {
			name  string
			attrs []byte
			ok    bool
		}{
			{"duplicate message-digest", bytes.Join([][]byte{attr(OIDAttrMessageDigest, md), attr(OIDAttrMessageDigest, md)}, nil), false},
			{"two values", attr(OIDAttrMessageDigest, md, md), false},
			{"no values", attr(OIDAttrContentType), false},
			{"content-type not OID", attr(OIDAttrContentType, md), false},
			{"signing-time", attr(OIDAttrSigningTime, mustMarshal(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))), true},
			{"bad signing-time", attr(OIDAttrSigningTime, md), false},
			{"ESS v1", attr(OIDAttrSigningCertificate, tlv(tagSequence, tlv(tagSequence, tlv(tagSequence, tlv(tagOctetString, make([]byte, 20)))))), true},
			{"ESS without certs", attr(OIDAttrSigningCertificateV2, tlv(tagSequence)), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				var si SignerInfo
				err := si.parseSignedAttrs(tt.attrs)
				if (err == nil) != tt.ok {
					t.Errorf("parseSignedAttrs = %v, want ok=%v", err, tt.ok)
				}
				if err != nil && !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v does not wrap ErrMalformed", err)
				}
			})
		}
	})
}

func TestResolveSignatureAlgorithm(t *testing.T) {
	hashAlg := func(oid asn1.ObjectIdentifier) []byte { return tlv(tagSequence, mustMarshal(oid)) }
	pss := func(h, mgfHash asn1.ObjectIdentifier, salt int) []byte {
		return tlv(tagSequence, mustMarshal(oidRSASSAPSS), tlv(tagSequence,
			tlv(tagCtx0, hashAlg(h)),
			tlv(tagCtx1, tlv(tagSequence, mustMarshal(oidMGF1), hashAlg(mgfHash))),
			tlv(tagCtx2, mustMarshal(salt))))
	}
	tests := []struct {
		name    string
		digest  asn1.ObjectIdentifier
		alg     []byte
		want    x509.SignatureAlgorithm
		kind    sigKind
		wantErr error // from resolve (nil) or at verification
	}{
		{"rsaEncryption", oidSHA256, hashAlg(oidRSAEncryption), x509.SHA256WithRSA, kindRSAPKCS1, nil},
		{"hash mismatch", oidSHA256, hashAlg(oidSHA384WithRSA), x509.UnknownSignatureAlgorithm, kindUnknown, ErrUnsupportedAlgorithm},
		{"id-ecPublicKey", oidSHA384, hashAlg(oidECPublicKey), x509.ECDSAWithSHA384, kindECDSA, nil},
		{"Ed25519", oidSHA512, hashAlg(oidEd25519), x509.PureEd25519, kindEd25519, nil},
		{"unknown digest", asn1.ObjectIdentifier{1, 2, 3}, hashAlg(oidSHA256WithRSA), x509.UnknownSignatureAlgorithm, kindUnknown, ErrUnsupportedAlgorithm},
		{"unknown algorithm", oidSHA256, hashAlg(asn1.ObjectIdentifier{1, 2, 3}), x509.UnknownSignatureAlgorithm, kindUnknown, ErrUnsupportedAlgorithm},
		{"PSS", oidSHA384, pss(oidSHA384, oidSHA384, 48), x509.SHA384WithRSAPSS, kindRSAPSS, nil},
		{"PSS MGF hash differs", oidSHA256, pss(oidSHA256, oidSHA1, 32), x509.UnknownSignatureAlgorithm, kindUnknown, ErrUnsupportedAlgorithm},
		{"PSS hash differs from digest", oidSHA256, pss(oidSHA512, oidSHA512, 64), x509.UnknownSignatureAlgorithm, kindUnknown, ErrUnsupportedAlgorithm},
		{"PSS defaults (SHA-1)", oidSHA1, tlv(tagSequence, mustMarshal(oidRSASSAPSS), tlv(tagSequence)), x509.UnknownSignatureAlgorithm, kindRSAPSS, nil},
		{"PSS without parameters", oidSHA256, hashAlg(oidRSASSAPSS), x509.UnknownSignatureAlgorithm, kindUnknown, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			si := &SignerInfo{DigestAlgorithmOID: tt.digest}
			si.DigestAlgorithm, _ = HashFromOID(tt.digest)
			var alg pkix.AlgorithmIdentifier
			if _, err := asn1.Unmarshal(tt.alg, &alg); err != nil {
				t.Fatal(err)
			}
			err := si.resolveSignatureAlgorithm(alg)
			if errors.Is(tt.wantErr, ErrMalformed) {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("resolve = %v, want ErrMalformed", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if si.SignatureAlgorithm != tt.want || si.kind != tt.kind {
				t.Errorf("got %v kind %d, want %v kind %d", si.SignatureAlgorithm, si.kind, tt.want, tt.kind)
			}
			p := &Parsed{Signer: si, EncapContentType: OIDData}
			size := 32
			if si.DigestAlgorithm != 0 {
				size = si.DigestAlgorithm.Size()
			}
			verr := p.VerifySignatureWith(&x509.Certificate{}, make([]byte, size))
			if tt.wantErr != nil && !errors.Is(verr, tt.wantErr) {
				t.Errorf("VerifySignatureWith = %v, want %v", verr, tt.wantErr)
			}
		})
	}
}

func TestBERToDER(t *testing.T) {
	tests := []struct {
		name    string
		in, out []byte
	}{
		{"definite", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{"indefinite", []byte{0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00}, []byte{0x30, 0x03, 0x02, 0x01, 0x05}},
		{"constructed OCTET STRING", []byte{0x24, 0x80, 0x04, 0x01, 'a', 0x24, 0x03, 0x04, 0x01, 'b', 0x00, 0x00}, []byte{0x04, 0x02, 'a', 'b'}},
		{"non-minimal length", []byte{0x04, 0x82, 0x00, 0x01, 'x'}, []byte{0x04, 0x01, 'x'}},
		{"high tag number", []byte{0x5f, 0x81, 0x01, 0x00}, []byte{0x5f, 0x81, 0x01, 0x00}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, rest, err := berToDER(append(bytes.Clone(tt.in), 0xff))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, tt.out) || !bytes.Equal(rest, []byte{0xff}) {
				t.Errorf("got %x rest %x, want %x", out, rest, tt.out)
			}
		})
	}
	for name, in := range map[string][]byte{
		"octets holding INTEGER": {0x24, 0x80, 0x02, 0x01, 0x01, 0x00, 0x00},
		"length beyond data":     {0x04, 0x05, 0x00},
		"5-octet length":         {0x04, 0x85, 0, 0, 0, 0, 1, 0},
		"long tag":               {0x1f, 0x81, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00},
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := berToDER(in); !errors.Is(err, ErrMalformed) {
				t.Errorf("berToDER = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestHashHelpers(t *testing.T) {
	for _, h := range []crypto.Hash{crypto.SHA1, crypto.SHA224, crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		oid, ok := HashOID(h)
		if !ok {
			t.Fatalf("HashOID(%v) missing", h)
		}
		if back, ok := HashFromOID(oid); !ok || back != h {
			t.Errorf("HashFromOID(%v) = %v", oid, back)
		}
		got, err := HashOf(bytes.NewReader([]byte("abc")), h)
		if err != nil {
			t.Fatal(err)
		}
		hh := h.New()
		hh.Write([]byte("abc"))
		if !bytes.Equal(got, hh.Sum(nil)) || !bytes.Equal(got, digestOf(h, []byte("abc"))) {
			t.Errorf("HashOf(%v) wrong", h)
		}
	}
	if _, err := HashOf(bytes.NewReader(nil), crypto.MD5); !errors.Is(err, ErrUnsupportedAlgorithm) {
		t.Errorf("HashOf(MD5) = %v", err)
	}
	if _, ok := HashFromOID(asn1.ObjectIdentifier{1, 2, 3}); ok {
		t.Error("unknown OID mapped")
	}
}
