package verify

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/devpki"
	"esign/revocation"
)

var writeEvidenceSeeds = flag.Bool("write-evidence-seeds", false,
	"make a new development PKI in testdata/evidence/ and the seeds of FuzzEvidenceOCSP and FuzzEvidenceCRL")

// evidenceTime is when the seeds were made: the PKI's responses and CRLs
// speak of this time.
var evidenceTime = time.Date(2026, 1, 15, 9, 0, 0, 0, time.UTC)

// FuzzEvidenceOCSP feeds bytes to the verifier as an OCSP response found
// in a DSS or a CMS structure, and asks what they say of two chains of
// the PKI in testdata/evidence/ (one leaf good, one revoked), through the
// path a signature's check takes: parsing, the responder's authority
// (the issuer or a delegate), the signature, and the status at several
// times. Seeds: testdata/fuzz/FuzzEvidenceOCSP, responses of the
// project's own responder (direct, delegated, several answers in one).
func FuzzEvidenceOCSP(f *testing.F) { fuzzEvidence(f, (*evidence).addOCSP) }

// FuzzEvidenceCRL is FuzzEvidenceOCSP for CRLs. Seeds:
// testdata/fuzz/FuzzEvidenceCRL, the project's CRLs of the issuing CA
// (one entry) and the root (none).
func FuzzEvidenceCRL(f *testing.F) { fuzzEvidence(f, (*evidence).addCRL) }

// TestEvidenceSeeds: the seeds reach the end of the path, a signature
// that verifies and a status, so the fuzzer starts from inputs the
// verifier believes.
func TestEvidenceSeeds(t *testing.T) {
	certs := readEvidencePKI(t)
	root, issuing, good, revoked := certs[0], certs[1], certs[2], certs[3]
	for _, tc := range []struct {
		target, seed string
		chain        []*x509.Certificate
		want         string // of the chain's first certificate: good, revoked
	}{
		{"FuzzEvidenceOCSP", "good-direct", []*x509.Certificate{good, issuing, root}, "good"},
		{"FuzzEvidenceOCSP", "good-delegated", []*x509.Certificate{good, issuing, root}, "good"},
		{"FuzzEvidenceOCSP", "revoked-direct", []*x509.Certificate{revoked, issuing, root}, "revoked"},
		{"FuzzEvidenceOCSP", "revoked-delegated", []*x509.Certificate{revoked, issuing, root}, "revoked"},
		{"FuzzEvidenceOCSP", "both-in-one", []*x509.Certificate{good, issuing, root}, "good"},
		{"FuzzEvidenceOCSP", "both-in-one", []*x509.Certificate{revoked, issuing, root}, "revoked"},
		{"FuzzEvidenceOCSP", "issuing-ca-by-root", []*x509.Certificate{issuing, root}, "good"},
		{"FuzzEvidenceOCSP", "unknown-issuer", []*x509.Certificate{good, issuing, root}, "unknown"},
		{"FuzzEvidenceCRL", "issuing-one-entry", []*x509.Certificate{good, issuing, root}, "good"},
		{"FuzzEvidenceCRL", "issuing-one-entry", []*x509.Certificate{revoked, issuing, root}, "revoked"},
		{"FuzzEvidenceCRL", "root-empty", []*x509.Certificate{issuing, root}, "good"},
	} {
		t.Run(tc.target+"/"+tc.seed+"/"+tc.chain[0].Subject.CommonName, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", "fuzz", tc.target, tc.seed))
			if err != nil {
				t.Fatal(err)
			}
			var lit string
			if _, err := fmt.Sscanf(string(b), "go test fuzz v1\n[]byte(%q)", &lit); err != nil {
				t.Fatal(err)
			}
			v := &verifier{ctx: context.Background(), certs: newCertCache(), sigChecks: map[[32]byte]error{}}
			v.certs.add(certs...)
			v.ev = newEvidence(v)
			if tc.target == "FuzzEvidenceCRL" {
				v.ev.addCRL([]byte(lit), fromDSS)
			} else {
				v.ev.addOCSP([]byte(lit), fromDSS)
			}
			st := v.ev.statusAt(tc.chain[0], tc.chain[1], evidenceTime)
			got := "unknown"
			switch {
			case st.revoked:
				got = "revoked"
			case st.known:
				got = "good"
			}
			if got != tc.want {
				t.Fatalf("%s, want %s", got, tc.want)
			}
		})
	}
}

func fuzzEvidence(f *testing.F, add func(e *evidence, der []byte, origin string)) {
	certs := readEvidencePKI(f)
	root, issuing, good, revoked := certs[0], certs[1], certs[2], certs[3]
	chains := [][]*x509.Certificate{{good, issuing, root}, {revoked, issuing, root}}
	times := []time.Time{evidenceTime.Add(-48 * time.Hour), evidenceTime, evidenceTime.Add(2 * time.Hour), evidenceTime.AddDate(2, 0, 0)}
	f.Fuzz(func(t *testing.T, der []byte) {
		v := &verifier{
			ctx: context.Background(), now: evidenceTime, certs: newCertCache(),
			chains: map[[32]byte][]*x509.Certificate{}, sigChecks: map[[32]byte]error{},
		}
		v.certs.add(certs...)
		v.ev = newEvidence(v)
		add(v.ev, der, fromDSS)
		add(v.ev, der, fromCMS) // the same bytes again count once
		if n := len(v.ev.ocsps) + len(v.ev.crls); n > 1 || (n == 0 && len(der) > 0) {
			t.Fatalf("%d items of evidence from one input", n)
		}
		for _, chain := range chains {
			for _, at := range times {
				res := v.ev.chainStatus(chain, at, true)
				if res.revoked != nil {
					if res.revoked != chain[0] && res.revoked != chain[1] {
						t.Fatalf("revoked %v is no certificate of the chain below the anchor", res.revoked.Subject)
					}
					if res.revokedAt.After(at) {
						t.Fatalf("revoked at %v, after the time asked %v", res.revokedAt, at)
					}
				}
				if res.revoked == nil && res.unknown == nil && len(der) == 0 {
					t.Fatal("a status known from no evidence")
				}
			}
			v.ev.hasDSSData(chain[0], chain[1])
		}
	})
}

var writeOnce sync.Once

func readEvidencePKI(f testing.TB) []*x509.Certificate {
	if *writeEvidenceSeeds {
		writeOnce.Do(func() { writeEvidence(f) })
	}
	b, err := os.ReadFile(filepath.Join("testdata", "evidence", "chain.pem"))
	if err != nil {
		f.Fatal(err)
	}
	var certs []*x509.Certificate
	for {
		var p *pem.Block
		if p, b = pem.Decode(b); p == nil {
			break
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			f.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 5 {
		f.Fatalf("%d certificates in testdata/evidence/chain.pem, want root, issuing CA, good and revoked leaves, OCSP delegate", len(certs))
	}
	return certs
}

// writeEvidence makes a development PKI (root, issuing CA, two leaves and
// a delegated OCSP responder, in testdata/evidence/chain.pem; the keys are
// thrown away) and the seeds: what its OCSP responders and CRL handlers
// answer at evidenceTime after the second leaf is revoked.
func writeEvidence(f testing.TB) {
	ctx := context.Background()
	key := func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			f.Fatal(err)
		}
		return k
	}
	from, until := evidenceTime.AddDate(-1, 0, 0), evidenceTime.AddDate(5, 0, 0)
	issue := func(cn string, tmpl devpki.CertTemplate, k crypto.Signer, issuer *x509.Certificate, issuerKey crypto.Signer) *x509.Certificate {
		tmpl.Subject, tmpl.NotBefore, tmpl.NotAfter = pkix.Name{CommonName: cn, Organization: []string{"esign fuzz seeds"}}, from, until
		c, err := devpki.IssueCertificate(ctx, tmpl, k.Public(), issuer, issuerKey)
		if err != nil {
			f.Fatal(err)
		}
		return c
	}
	ca := devpki.CertTemplate{IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rootKey, issuingKey, delegateKey := key(), key(), key()
	root := issue("evidence root", ca, rootKey, nil, rootKey)
	issuing := issue("evidence issuing CA", ca, issuingKey, root, rootKey)
	leaf := devpki.CertTemplate{KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	good := issue("evidence good leaf", leaf, key(), issuing, issuingKey)
	revoked := issue("evidence revoked leaf", leaf, key(), issuing, issuingKey)
	delegate := issue("evidence OCSP delegate", devpki.CertTemplate{KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageOCSPSigning}, OCSPNoCheck: true}, delegateKey, issuing, issuingKey)

	dir := filepath.Join("testdata", "evidence")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	var chain []byte
	for _, c := range []*x509.Certificate{root, issuing, good, revoked, delegate} {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if err := os.WriteFile(filepath.Join(dir, "chain.pem"), chain, 0o644); err != nil {
		f.Fatal(err)
	}

	status := &revocation.FileSource{Path: filepath.Join(f.TempDir(), "status.json")}
	if err := status.Revoke(ctx, issuing, revoked.SerialNumber, evidenceTime.Add(-24*time.Hour), 1, "fuzz seed"); err != nil {
		f.Fatal(err)
	}
	now := func() time.Time { return evidenceTime }
	ocspSeeds := map[string][]byte{}
	respond := func(name string, r *revocation.Responder, issuer *x509.Certificate, certs ...*x509.Certificate) {
		req, err := ocspRequestFor(issuer, certs...)
		if err != nil {
			f.Fatal(err)
		}
		ocspSeeds[name] = r.Respond(ctx, req)
	}
	direct := &revocation.Responder{Issuer: issuing, Certificate: issuing, Signer: issuingKey, Source: status.ForIssuer(issuing), Now: now}
	delegated := &revocation.Responder{Issuer: issuing, Certificate: delegate, Signer: delegateKey, Source: status.ForIssuer(issuing), Now: now}
	byRoot := &revocation.Responder{Issuer: root, Certificate: root, Signer: rootKey, Source: status.ForIssuer(root), Now: now}
	respond("good-direct", direct, issuing, good)
	respond("revoked-direct", direct, issuing, revoked)
	respond("good-delegated", delegated, issuing, good)
	respond("revoked-delegated", delegated, issuing, revoked)
	respond("both-in-one", direct, issuing, good, revoked)
	respond("issuing-ca-by-root", byRoot, root, issuing)
	respond("unknown-issuer", byRoot, root, good)
	ocspSeeds["malformed-request-error"] = ocsp.MalformedRequestErrorResponse

	crlSeeds := map[string][]byte{}
	for name, h := range map[string]*revocation.CRLHandler{
		"issuing-one-entry": {Issuer: issuing, Signer: issuingKey, Source: status.ForIssuer(issuing), Now: now},
		"root-empty":        {Issuer: root, Signer: rootKey, Source: status.ForIssuer(root), Now: now},
	} {
		der, err := h.CRL(ctx)
		if err != nil {
			f.Fatal(err)
		}
		crlSeeds[name] = der
	}
	for target, seeds := range map[string]map[string][]byte{"FuzzEvidenceOCSP": ocspSeeds, "FuzzEvidenceCRL": crlSeeds} {
		d := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
		for name, der := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(der)))
			if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
				f.Fatal(err)
			}
		}
	}
}

// ocspRequestFor asks about certs, all issued by issuer, in one request.
func ocspRequestFor(issuer *x509.Certificate, certs ...*x509.Certificate) ([]byte, error) {
	if len(certs) == 1 {
		return ocsp.CreateRequest(certs[0], issuer, nil)
	}
	// x/crypto/ocsp asks about one certificate; several go in a request of
	// our own making, as some clients send.
	var reqs [][]byte
	for _, c := range certs {
		r, err := ocsp.CreateRequest(c, issuer, nil)
		if err != nil {
			return nil, err
		}
		reqs = append(reqs, r)
	}
	return joinOCSPRequests(reqs)
}

// joinOCSPRequests puts the single requests of several one-certificate
// OCSP requests into one.
func joinOCSPRequests(reqs [][]byte) ([]byte, error) {
	type tbsRequest struct{ List []asn1.RawValue }
	type request struct{ TBS tbsRequest }
	var all request
	for _, b := range reqs {
		var r request
		if _, err := asn1.Unmarshal(b, &r); err != nil {
			return nil, err
		}
		all.TBS.List = append(all.TBS.List, r.TBS.List...)
	}
	return asn1.Marshal(all)
}
