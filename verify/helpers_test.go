package verify_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"esign/devpki"
	"esign/devstack"
	"esign/hsm/hsmtest"
	"esign/internal/testenv"
	"esign/revocation"
	"esign/signer"
	"esign/tsa"
	"esign/verify"
)

func TestMain(m *testing.M) { os.Exit(hsmtest.Main(m)) }

// fixture is a running development PKI (keys in SoftHSM) and what the
// tests derive from it.
type fixture struct {
	env   *testenv.Env
	roots *x509.CertPool
	// issuingKey signs the odd certificates tests need under the dev CA.
	issuingKey crypto.Signer
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := testenv.New(t)
	roots := x509.NewCertPool()
	roots.AddCert(env.PKI.Root)
	key, err := devstack.KeyStore{KM: env.Keys}.Key(context.Background(), devpki.IssuingCA, "RSA-3072")
	if err != nil {
		t.Fatalf("issuing CA key: %v", err)
	}
	return &fixture{env: env, roots: roots, issuingKey: key}
}

func corpus(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "corpus", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs in with s and returns the whole signed file.
func sign(t testing.TB, s *signer.Signer, in []byte, cred signer.Credential, opts signer.Options) []byte {
	t.Helper()
	res, err := s.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), cred, opts)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// offline is a configuration that trusts the dev root and fetches nothing.
func (f *fixture) offline() verify.Config {
	return verify.Config{Roots: f.roots}
}

// online also lets the verifier ask the dev PKI's services on 127.0.0.1.
func (f *fixture) online() verify.Config {
	return verify.Config{
		Roots: f.roots,
		Fetch: f.env.Outbound,
	}
}

func run(t testing.TB, data []byte, cfg verify.Config) *verify.Report {
	t.Helper()
	rep, err := verify.Verify(context.Background(), bytes.NewReader(data), int64(len(data)), cfg)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

func dump(rep *verify.Report) string {
	b, _ := json.MarshalIndent(rep, "", "  ")
	return string(b)
}

// want describes the expected verdict of one signature.
type want struct {
	kind       string
	indication verify.Indication
	sub        verify.SubIndication
	level      string
	modified   bool
	modKind    string // a kind Modifications must contain
	covers     *bool
	cert       string // certification
}

func checkSig(t *testing.T, rep *verify.Report, i int, w want) {
	t.Helper()
	if i >= len(rep.Signatures) {
		t.Fatalf("signature %d missing; report:\n%s", i, dump(rep))
	}
	s := rep.Signatures[i]
	bad := func(format string, args ...any) {
		t.Helper()
		t.Errorf("signature %d (%s): "+format+"\nreport:\n%s", append(append([]any{i, s.Field}, args...), dump(rep))...)
	}
	if w.kind == "" {
		w.kind = verify.KindSignature
	}
	if s.Kind != w.kind {
		bad("kind %q, want %q", s.Kind, w.kind)
	}
	if s.Indication != w.indication || s.SubIndication != w.sub {
		bad("indication %s/%s, want %s/%s", s.Indication, s.SubIndication, w.indication, w.sub)
	}
	if w.level != "-" && s.Level != w.level {
		bad("level %q, want %q", s.Level, w.level)
	}
	if s.ModifiedAfter != w.modified {
		bad("modified_after %v, want %v", s.ModifiedAfter, w.modified)
	}
	if w.modKind != "" {
		found := false
		for _, m := range s.Modifications {
			found = found || m.Kind == w.modKind
		}
		if !found {
			bad("no modification of kind %q", w.modKind)
		}
	}
	if w.covers != nil && s.CoversWholeDocument != *w.covers {
		bad("covers_whole_document %v, want %v", s.CoversWholeDocument, *w.covers)
	}
	if w.cert == "" {
		w.cert = "none"
	}
	if s.Certification != w.cert {
		bad("certification %q, want %q", s.Certification, w.cert)
	}
}

func checkDoc(t *testing.T, rep *verify.Report, ind verify.Indication, count int) {
	t.Helper()
	if rep.Document.Indication != ind || rep.Document.SignatureCount != count {
		t.Errorf("document %s with %d signatures, want %s with %d\nreport:\n%s",
			rep.Document.Indication, rep.Document.SignatureCount, ind, count, dump(rep))
	}
}

func boolp(b bool) *bool { return &b }

// issueLeaf makes a software key and a signer certificate for it under the
// dev issuing CA, with the dev PKI's revocation URLs unless noURLs.
func (f *fixture) issueLeaf(t testing.TB, cn string, notBefore, notAfter time.Time, mod func(*devpki.CertTemplate)) signer.Credential {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	base := f.env.PKI.BaseURL
	tmpl := devpki.CertTemplate{
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"esign tests"}, Country: []string{"TH"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{base + devpki.PathOCSP},
		IssuingCertificateURL: []string{base + devpki.PathIssuingCert},
		CRLDistributionPoints: []string{base + devpki.PathIssuingCRL},
	}
	if mod != nil {
		mod(&tmpl)
	}
	cert, err := devpki.IssueCertificate(context.Background(), tmpl, key.Public(), f.env.PKI.Issuing, f.issuingKey)
	if err != nil {
		t.Fatalf("issue certificate: %v", err)
	}
	return signer.Credential{Signer: key, Chain: []*x509.Certificate{cert, f.env.PKI.Issuing, f.env.PKI.Root}}
}

// revoke marks cert revoked at the given time in the dev PKI's status file.
func (f *fixture) revoke(t testing.TB, cert *x509.Certificate, at time.Time) {
	t.Helper()
	src := &revocation.FileSource{Path: f.env.PKI.StatusFile()}
	if err := src.Revoke(context.Background(), f.env.PKI.Issuing, cert.SerialNumber, at, 1, "test"); err != nil {
		t.Fatal(err)
	}
}

// newSigner returns a signer with the env's TSA and revocation source and
// its own TSA-profile cache.
func (f *fixture) newSigner() *signer.Signer {
	return &signer.Signer{
		TSA:        f.env.TSAClient(),
		Revocation: &revocation.Fetcher{Client: f.env.Outbound},
	}
}

// skewedTSA asks the real TSA to time-stamp another digest than asked on
// the calls whose 1-based number wrong says: a token over the wrong
// imprint, as a broken or malicious TSA client would embed.
type skewedTSA struct {
	tsa   signer.Timestamper
	wrong map[int]bool
	calls int
}

func (s *skewedTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*tsa.Token, error) {
	s.calls++
	if s.wrong[s.calls] {
		d := append([]byte(nil), digest...)
		d[0] ^= 0xff
		digest = d
	}
	return s.tsa.Timestamp(ctx, digest, h)
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func pkixName(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"esign tests"}, Country: []string{"TH"}}
}
