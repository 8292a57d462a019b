package hsm_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ThalesIgnite/crypto11"
	"github.com/miekg/pkcs11"

	"esign/hsm"
	"esign/hsm/hsmtest"
)

// canonicalModule is the module path as hsm.Open passes it to crypto11. Tests
// that open crypto11 themselves must use the same spelling, or crypto11's
// per-path reference count would finalise the library under the KeyManagers.
func canonicalModule(t testing.TB) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(hsmtest.ModulePath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// openCrypto11 opens a second, independent crypto11 context on the token of
// cfg, to inspect what the KeyManager did without going through it.
func openCrypto11(t testing.TB, cfg hsm.Config) *crypto11.Context {
	t.Helper()
	c, err := crypto11.Configure(&crypto11.Config{Path: canonicalModule(t), TokenLabel: cfg.TokenLabel, Pin: cfg.PIN})
	if err != nil {
		t.Fatalf("crypto11.Configure: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestCreateKeySignAndVerify(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "create-sign")
	direct := openCrypto11(t, cfg)

	d256 := sha256Sum("สวัสดี esign")
	h384 := sha512.Sum384([]byte("สวัสดี esign"))
	d384 := h384[:]

	tests := []struct {
		alg   hsm.Algorithm
		check func(t *testing.T, s crypto.Signer)
	}{
		{hsm.RSA2048, checkRSA(2048)},
		{hsm.RSA3072, checkRSA(3072)},
		{hsm.RSA4096, checkRSA(4096)},
		{hsm.ECDSAP256, checkECDSA(elliptic.P256(), d256, crypto.SHA256)},
		{hsm.ECDSAP384, checkECDSA(elliptic.P384(), d384, crypto.SHA384)},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg), func(t *testing.T) {
			label := "key-" + string(tc.alg)
			s, err := m.CreateKey(ctx, label, tc.alg)
			if err != nil {
				t.Fatalf("CreateKey: %v", err)
			}
			tc.check(t, s)

			// The same key found again by label signs for the same public key.
			again, err := m.Signer(ctx, hsm.KeyRef{Label: label})
			if err != nil {
				t.Fatalf("Signer by label: %v", err)
			}
			if !s.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(again.Public()) {
				t.Fatal("Signer by label returned another key")
			}
			tc.check(t, again)

			checkKeyAttributes(t, direct, label)
		})
	}
}

func checkRSA(bits int) func(t *testing.T, s crypto.Signer) {
	return func(t *testing.T, s crypto.Signer) {
		t.Helper()
		pub, ok := s.Public().(*rsa.PublicKey)
		if !ok {
			t.Fatalf("public key is %T, want *rsa.PublicKey", s.Public())
		}
		if pub.N.BitLen() != bits {
			t.Fatalf("modulus is %d bits, want %d", pub.N.BitLen(), bits)
		}
		d := sha256Sum("document")
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatalf("sign PKCS#1 v1.5: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
			t.Fatalf("VerifyPKCS1v15: %v", err)
		}
		if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sha256Sum("other"), sig); err == nil {
			t.Fatal("signature verifies for another digest")
		}

		h := sha512.Sum512([]byte("document"))
		for _, salt := range []int{rsa.PSSSaltLengthEqualsHash, rsa.PSSSaltLengthAuto} {
			opts := &rsa.PSSOptions{SaltLength: salt, Hash: crypto.SHA512}
			sig, err = s.Sign(rand.Reader, h[:], opts)
			if err != nil {
				t.Fatalf("sign PSS (salt %d): %v", salt, err)
			}
			// The salt must be exactly the hash length, which the verifier
			// checks when told so.
			verify := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA512}
			if err := rsa.VerifyPSS(pub, crypto.SHA512, h[:], sig, verify); err != nil {
				t.Fatalf("VerifyPSS (salt %d): %v", salt, err)
			}
		}
	}
}

func checkECDSA(curve elliptic.Curve, digest []byte, hash crypto.Hash) func(t *testing.T, s crypto.Signer) {
	return func(t *testing.T, s crypto.Signer) {
		t.Helper()
		pub, ok := s.Public().(*ecdsa.PublicKey)
		if !ok {
			t.Fatalf("public key is %T, want *ecdsa.PublicKey", s.Public())
		}
		if pub.Curve != curve {
			t.Fatalf("curve %s, want %s", pub.Curve.Params().Name, curve.Params().Name)
		}
		sig, err := s.Sign(rand.Reader, digest, hash)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatal("ecdsa.VerifyASN1 rejects the signature")
		}
		other := append([]byte(nil), digest...)
		other[0] ^= 1
		if ecdsa.VerifyASN1(pub, other, sig) {
			t.Fatal("signature verifies for another digest")
		}
	}
}

// checkKeyAttributes reads the key's attributes through an independent
// crypto11 context: a token object, sensitive, never extractable, sign-only,
// with a 16-byte CKA_ID shared by the public half.
func checkKeyAttributes(t *testing.T, c *crypto11.Context, label string) {
	t.Helper()
	k, err := c.FindKeyPair(nil, []byte(label))
	if err != nil || k == nil {
		t.Fatalf("FindKeyPair(%q): %v, %v", label, k, err)
	}
	attrs, err := c.GetAttributes(k, []crypto11.AttributeType{
		crypto11.CkaToken, crypto11.CkaPrivate, crypto11.CkaSensitive, crypto11.CkaExtractable,
		crypto11.CkaAlwaysSensitive, crypto11.CkaNeverExtractable, crypto11.CkaSign, crypto11.CkaDecrypt,
		crypto11.CkaId, crypto11.CkaLabel,
	})
	if err != nil {
		t.Fatalf("GetAttributes: %v", err)
	}
	want := map[crypto11.AttributeType]bool{
		crypto11.CkaToken: true, crypto11.CkaPrivate: true, crypto11.CkaSensitive: true, crypto11.CkaExtractable: false,
		crypto11.CkaAlwaysSensitive: true, crypto11.CkaNeverExtractable: true, crypto11.CkaSign: true, crypto11.CkaDecrypt: false,
	}
	for typ, w := range want {
		a := attrs[typ]
		if a == nil || len(a.Value) != 1 {
			t.Fatalf("attribute %#x missing", typ)
		}
		if got := a.Value[0] != 0; got != w {
			t.Errorf("attribute %#x = %v, want %v", typ, got, w)
		}
	}
	if got := string(attrs[crypto11.CkaLabel].Value); got != label {
		t.Errorf("CKA_LABEL = %q, want %q", got, label)
	}
	id := attrs[crypto11.CkaId].Value
	if len(id) != 16 {
		t.Errorf("CKA_ID is %d bytes, want 16", len(id))
	}
	pubID, err := c.GetPubAttribute(k, crypto11.CkaId)
	if err != nil || string(pubID.Value) != string(id) {
		t.Errorf("public key CKA_ID = %x (%v), want %x", pubID, err, id)
	}
	// The private value cannot be read.
	typ := crypto11.CkaPrivateExponent
	if _, ok := k.Public().(*ecdsa.PublicKey); ok {
		typ = crypto11.CkaValue
	}
	_, err = c.GetAttribute(k, typ)
	var p11 pkcs11.Error
	if !errors.As(err, &p11) || p11 != pkcs11.CKR_ATTRIBUTE_SENSITIVE {
		t.Errorf("reading the private value: got %v, want CKR_ATTRIBUTE_SENSITIVE", err)
	}
}

func TestCreateKeyErrors(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "create-errors")
	if _, err := m.CreateKey(ctx, "taken", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		label string
		alg   hsm.Algorithm
		is    error
		msg   string
	}{
		{"label taken", "taken", hsm.ECDSAP256, hsm.ErrAlreadyExists, "already exists"},
		{"label taken other algorithm", "taken", hsm.RSA2048, hsm.ErrAlreadyExists, "already exists"},
		{"empty label", "", hsm.RSA2048, nil, "empty label"},
		{"long label", strings.Repeat("x", 129), hsm.RSA2048, nil, "at most 128"},
		{"unknown algorithm", "fresh", "RSA-1024", nil, "unsupported algorithm"},
		{"lower-case algorithm", "fresh", "rsa-2048", nil, "unsupported algorithm"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateKey(ctx, tc.label, tc.alg)
			if err == nil {
				t.Fatal("CreateKey succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
	keys, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 {
		t.Fatalf("token holds %d keys after failed creates, want 1: %+v", len(keys), keys)
	}
}

func TestSignerLookup(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "lookup")
	s, err := m.CreateKey(ctx, "official", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := m.List(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("List: %v %v", keys, err)
	}
	id, err := hex.DecodeString(keys[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	pub := s.Public().(*ecdsa.PublicKey)

	tests := []struct {
		name string
		ref  hsm.KeyRef
		ok   bool
	}{
		{"label", hsm.KeyRef{Label: "official"}, true},
		{"id", hsm.KeyRef{ID: id}, true},
		{"label and id", hsm.KeyRef{Label: "official", ID: id}, true},
		{"wrong label", hsm.KeyRef{Label: "unofficial"}, false},
		{"wrong id", hsm.KeyRef{ID: []byte{1, 2, 3}}, false},
		{"label with other id", hsm.KeyRef{Label: "official", ID: []byte{1, 2, 3}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Signer(ctx, tc.ref)
			gotPub, perr := m.PublicKey(ctx, tc.ref)
			if !tc.ok {
				if !errors.Is(err, hsm.ErrNotFound) || !errors.Is(perr, hsm.ErrNotFound) {
					t.Fatalf("Signer: %v, PublicKey: %v; want ErrNotFound", err, perr)
				}
				return
			}
			if err != nil || perr != nil {
				t.Fatalf("Signer: %v, PublicKey: %v", err, perr)
			}
			if !pub.Equal(got.Public()) || !pub.Equal(gotPub) {
				t.Fatal("found another key")
			}
		})
	}
	if _, err := m.Signer(ctx, hsm.KeyRef{}); err == nil {
		t.Fatal("empty KeyRef accepted")
	}
}

func TestSignRejectsBadRequests(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "bad-requests")
	s, err := m.CreateKey(ctx, "k", hsm.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		digest []byte
		opts   crypto.SignerOpts
	}{
		{"empty digest", nil, crypto.SHA256},
		{"short digest", make([]byte, 20), crypto.SHA256},
		{"nil opts", make([]byte, 32), nil},
		{"unsupported hash", make([]byte, 32), crypto.SHA3_256},
		{"PSS without hash", make([]byte, 32), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Sign(rand.Reader, tc.digest, tc.opts); err == nil {
				t.Fatal("Sign accepted a bad request")
			}
		})
	}
	if m.Reconnects() != 0 {
		t.Fatalf("bad requests caused %d reconnects", m.Reconnects())
	}
}

// newCA makes a throwaway CA in memory, outside the HSM.
func newCA(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Test CA", Country: []string{"TH"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

func issue(t testing.TB, ca *x509.Certificate, caKey crypto.Signer, pub crypto.PublicKey, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"กรมทดสอบ"}, Country: []string{"TH"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, pub, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestCertificates(t *testing.T) {
	ctx := context.Background()
	m, _ := hsmtest.NewToken(t, "certs")
	ca, caKey := newCA(t)
	s, err := m.CreateKey(ctx, "signer-1", hsm.RSA2048)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateKey(ctx, "signer-2", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
	notAfter := time.Now().Add(10 * 24 * time.Hour).Truncate(time.Second).UTC()
	leaf := issue(t, ca, caKey, s.Public(), "นางสาวสมศรี ใจดี", notAfter)

	if _, err := m.Certificate(ctx, hsm.KeyRef{Label: "signer-1"}); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("Certificate before import: %v, want ErrNotFound", err)
	}
	// A certificate for another key is refused.
	if err := m.ImportCertificate(ctx, hsm.KeyRef{Label: "signer-2"}, leaf); err == nil || !strings.Contains(err.Error(), "does not certify") {
		t.Fatalf("import onto the wrong key: %v", err)
	}
	if err := m.ImportCertificate(ctx, hsm.KeyRef{Label: "signer-1"}, leaf); err != nil {
		t.Fatalf("ImportCertificate: %v", err)
	}
	if err := m.ImportCertificate(ctx, hsm.KeyRef{Label: "signer-1"}, leaf); !errors.Is(err, hsm.ErrAlreadyExists) {
		t.Fatalf("second import: %v, want ErrAlreadyExists", err)
	}
	// The chain: the CA stored on its own under its own label.
	if err := m.ImportCertificate(ctx, hsm.KeyRef{Label: "chain-ca"}, ca); err != nil {
		t.Fatalf("import CA: %v", err)
	}
	if err := m.ImportCertificate(ctx, hsm.KeyRef{ID: []byte{9, 9}}, ca); err == nil {
		t.Fatal("import of a key-less certificate without label accepted")
	}
	// A key cannot take a label used by a certificate.
	if _, err := m.CreateKey(ctx, "chain-ca", hsm.ECDSAP256); !errors.Is(err, hsm.ErrAlreadyExists) {
		t.Fatalf("CreateKey over a certificate label: %v, want ErrAlreadyExists", err)
	}

	keys, err := m.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id1, _ := hex.DecodeString(keys[0].ID)
	for _, ref := range []hsm.KeyRef{{Label: "signer-1"}, {ID: id1}} {
		got, err := m.Certificate(ctx, ref)
		if err != nil {
			t.Fatalf("Certificate(%v): %v", ref, err)
		}
		if !got.Equal(leaf) {
			t.Fatalf("Certificate(%v) returned another certificate", ref)
		}
	}
	gotCA, err := m.Certificate(ctx, hsm.KeyRef{Label: "chain-ca"})
	if err != nil || !gotCA.Equal(ca) {
		t.Fatalf("CA certificate: %v", err)
	}
	if _, err := m.Certificate(ctx, hsm.KeyRef{Label: "signer-2"}); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("Certificate of key without one: %v", err)
	}

	want := []hsm.KeyInfo{
		{Label: "signer-1", Algorithm: hsm.RSA2048, HasCertificate: true, Subject: leaf.Subject.String(), NotAfter: notAfter},
		{Label: "signer-2", Algorithm: hsm.ECDSAP256},
	}
	if len(keys) != len(want) {
		t.Fatalf("List returned %d keys, want %d: %+v", len(keys), len(want), keys)
	}
	for i, w := range want {
		k := keys[i]
		if len(k.ID) != 32 {
			t.Errorf("key %d: ID %q is not 16 bytes of hex", i, k.ID)
		}
		k.ID = ""
		if k.Label != w.Label || k.Algorithm != w.Algorithm || k.HasCertificate != w.HasCertificate ||
			k.Subject != w.Subject || !k.NotAfter.Equal(w.NotAfter) {
			t.Errorf("key %d = %+v, want %+v", i, k, w)
		}
	}
	if !strings.Contains(keys[0].Subject, "นางสาวสมศรี ใจดี") {
		t.Errorf("subject %q lost the Thai name", keys[0].Subject)
	}
}

func TestOpenErrorsKeepOthersWorking(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "bystander")
	s, err := m.CreateKey(ctx, "k", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(cfg.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A token nobody is logged in to: PKCS#11 shares a login between the
	// sessions of a process, so a PIN is only checked on such a token.
	idle := hsmtest.NewTokenConfig(t, "idle")
	tests := []struct {
		name string
		cfg  hsm.Config
		is   error
		msg  string
	}{
		{"wrong PIN", hsm.Config{TokenLabel: idle.TokenLabel, PIN: "wrong-pin"}, nil, "CKR_PIN_INCORRECT"},
		{"unknown token", hsm.Config{TokenLabel: "no-such-token", PIN: "1234"}, hsm.ErrNotFound, "no-such-token"},
		{"unknown serial", hsm.Config{TokenSerial: "0000000000000000", PIN: "1234"}, hsm.ErrNotFound, "serial"},
		{"no token selected", hsm.Config{PIN: "1234"}, nil, "selects no token"},
		{"no PIN", hsm.Config{TokenLabel: cfg.TokenLabel}, nil, "no PIN"},
		{"missing PIN file", hsm.Config{TokenLabel: cfg.TokenLabel, PINSource: "file:/nonexistent/pin"}, nil, "read PIN file"},
		{"bad module", hsm.Config{ModulePath: "/nonexistent/libpkcs11.so", TokenLabel: cfg.TokenLabel, PIN: cfg.PIN}, nil, "load PKCS#11 module"},
		{"one session", hsm.Config{TokenLabel: cfg.TokenLabel, PIN: cfg.PIN, MaxSessions: 1}, nil, "MaxSessions"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := hsm.Open(ctx, tc.cfg)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Fatalf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
			if strings.Contains(err.Error(), cfg.PIN) {
				t.Fatal("error reveals the PIN")
			}
			// crypto11 finalises the library when it fails to configure;
			// Open must not let it, so the open KeyManager still signs.
			d := sha256Sum(tc.name)
			sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatalf("open KeyManager broken by the failed Open: %v", err)
			}
			if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d, sig) {
				t.Fatal("bad signature")
			}
		})
	}
	if m.Reconnects() != 0 {
		t.Fatalf("failed Opens made the bystander reconnect %d times", m.Reconnects())
	}

	t.Run("PIN file", func(t *testing.T) {
		m2, err := hsm.Open(ctx, hsm.Config{TokenLabel: cfg.TokenLabel, PINSource: "file:" + pinFile})
		if err != nil {
			t.Fatal(err)
		}
		defer m2.Close()
		if _, err := m2.Signer(ctx, hsm.KeyRef{Label: "k"}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestSeveralKeyManagers(t *testing.T) {
	ctx := context.Background()
	m1, cfg := hsmtest.NewToken(t, "several")
	s1, err := m1.CreateKey(ctx, "shared", hsm.ECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	_, cfgB := hsmtest.NewToken(t, "several-b")

	// Open and close more KeyManagers on the same module, same and other
	// token, in overlapping order; the first must keep working throughout.
	m2, err := hsm.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m3, err := hsm.Open(ctx, cfgB)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := m2.Signer(ctx, hsm.KeyRef{Label: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m3.Signer(ctx, hsm.KeyRef{Label: "shared"}); !errors.Is(err, hsm.ErrNotFound) {
		t.Fatalf("key visible on the other token: %v", err)
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m2.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s2.Sign(rand.Reader, sha256Sum("x"), crypto.SHA256); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("signer of a closed KeyManager: %v, want ErrClosed", err)
	}
	if _, err := m2.List(ctx); !errors.Is(err, hsm.ErrClosed) {
		t.Fatalf("List on a closed KeyManager: %v, want ErrClosed", err)
	}
	d := sha256Sum("still working")
	sig, err := s1.Sign(rand.Reader, d, crypto.SHA256)
	if err != nil {
		t.Fatalf("first KeyManager after closing the second: %v", err)
	}
	if !ecdsa.VerifyASN1(s1.Public().(*ecdsa.PublicKey), d, sig) {
		t.Fatal("bad signature")
	}
	if err := m3.Close(); err != nil {
		t.Fatal(err)
	}
	if m1.Reconnects() != 0 {
		t.Fatalf("reconnects = %d, want 0", m1.Reconnects())
	}
}

func TestOpenFromURI(t *testing.T) {
	ctx := context.Background()
	m, cfg := hsmtest.NewToken(t, "uri")
	want, err := m.CreateKey(ctx, "dev-official", hsm.ECDSAP384)
	if err != nil {
		t.Fatal(err)
	}
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte(cfg.PIN+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ESIGN_TEST_URI_PIN", cfg.PIN)
	for _, uri := range []string{
		"pkcs11:token=" + cfg.TokenLabel + ";object=dev-official?module-path=" + hsmtest.ModulePath + "&pin-source=file:" + pinFile,
		"pkcs11:token=" + cfg.TokenLabel + ";object=dev-official;type=private?pin-source=env:ESIGN_TEST_URI_PIN",
	} {
		ucfg, ref, err := hsm.ParseURI(uri)
		if err != nil {
			t.Fatalf("ParseURI(%s): %v", uri, err)
		}
		um, err := hsm.Open(ctx, ucfg)
		if err != nil {
			t.Fatalf("Open(%s): %v", uri, err)
		}
		s, err := um.Signer(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		d := sha256Sum(uri)
		sig, err := s.Sign(rand.Reader, d, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(want.Public().(*ecdsa.PublicKey), d, sig) {
			t.Fatal("signature is not by the key the URI names")
		}
		if err := um.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestInitToken(t *testing.T) {
	ctx := context.Background()
	cfg := hsmtest.NewTokenConfig(t, "init-token")
	err := hsm.InitToken(ctx, hsmtest.ModulePath, cfg.TokenLabel, "so-pin", "user-pin")
	if !errors.Is(err, hsm.ErrAlreadyExists) {
		t.Fatalf("InitToken over an existing label: %v, want ErrAlreadyExists", err)
	}
	bad := []struct{ name, label, so, user, msg string }{
		{"empty label", "", "so", "user", "empty token label"},
		{"long label", strings.Repeat("x", 33), "so", "user", "PKCS#11 allows 32"},
		{"trailing blank", "abc ", "so", "user", "trailing blanks"},
		{"empty SO PIN", "fresh", "", "user", "must not be empty"},
		{"empty user PIN", "fresh", "so", "", "must not be empty"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			err := hsm.InitToken(ctx, hsmtest.ModulePath, tc.label, tc.so, tc.user)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("InitToken: %v, want error mentioning %q", err, tc.msg)
			}
		})
	}
	// The token was initialised with its user PIN: it refuses another PIN
	// (checked while nothing is logged in to it, as PKCS#11 shares a login
	// between the sessions of a process), opens and makes keys.
	if _, err := hsm.Open(ctx, hsm.Config{TokenLabel: cfg.TokenLabel, PIN: "not-the-pin"}); err == nil {
		t.Fatal("token opens with a wrong PIN")
	}
	m, err := hsm.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := m.CreateKey(ctx, "k", hsm.ECDSAP256); err != nil {
		t.Fatal(err)
	}
}
