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
	"encoding/asn1"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitorus/timestamp"

	"esign/devpki"
	"esign/outbound"
	"esign/outbound/outboundtest"
	"esign/signer"
	"esign/tsa"
	"esign/verify"
)

// selfRoot makes an unrelated root CA and a signer under it.
func selfRoot(t testing.TB, urls *devpki.CertTemplate) signer.Credential {
	t.Helper()
	ctx := context.Background()
	now := time.Now()
	rootKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	root, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject: pkix.Name{CommonName: "Someone Else's Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, MaxPathLen: -1, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, rootKey.Public(), nil, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := devpki.CertTemplate{
		Subject: pkix.Name{CommonName: "นายหนึ่ง ไม่มีใครรู้จัก"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if urls != nil {
		tmpl.OCSPServer, tmpl.CRLDistributionPoints, tmpl.IssuingCertificateURL = urls.OCSPServer, urls.CRLDistributionPoints, urls.IssuingCertificateURL
	}
	leaf, err := devpki.IssueCertificate(ctx, tmpl, key.Public(), root, rootKey)
	if err != nil {
		t.Fatal(err)
	}
	return signer.Credential{Signer: key, Chain: []*x509.Certificate{leaf, root}}
}

// TestCertificates covers the verdicts that depend on the signer's
// certificate: trust, validity at the signature's time, revocation
// before and after the timestamp, key usage, and the timestamp itself.
func TestCertificates(t *testing.T) {
	f := newFixture(t)
	in := corpus(t, "memo-libreoffice.pdf")
	now := time.Now()

	untrusted := sign(t, f.env.Signer, in, selfRoot(t, nil), signer.Options{Level: signer.LevelT})

	// Valid for a while after the CA was made, expired when signing now.
	caStart := f.env.PKI.Issuing.NotBefore
	expiredCred := f.issueLeaf(t, "นายหมดอายุ แล้ว", caStart.Add(time.Minute), now.Add(-10*time.Minute), nil)
	pastSigner := f.newSigner()
	pastSigner.Now = func() time.Time { return now.Add(-20 * time.Minute) }
	// Claims (/M) to sign now, after expiry; the timestamp agrees.
	expiredT := sign(t, pastSigner, in, expiredCred, signer.Options{Level: signer.LevelT, Time: now})
	// Claims to have signed while the certificate was valid, but nothing
	// proves it: no timestamp.
	expiredB := sign(t, pastSigner, in, expiredCred, signer.Options{Level: signer.LevelB})
	// Claims a valid time, but the timestamp is after expiry.
	expiredLateTS := sign(t, pastSigner, in, expiredCred, signer.Options{Level: signer.LevelT})

	// Revoked before and after the signature timestamp.
	revokedEarly := f.issueLeaf(t, "นางสาวเพิกถอน ก่อน", now.Add(-time.Hour), now.Add(24*time.Hour), nil)
	early := sign(t, f.newSigner(), in, revokedEarly, signer.Options{Level: signer.LevelT})
	earlyTS := *run(t, early, f.online()).Signatures[0].TimestampTime
	f.revoke(t, revokedEarly.Chain[0], earlyTS.Add(-10*time.Minute))

	revokedLate := f.issueLeaf(t, "นางสาวเพิกถอน ทีหลัง", now.Add(-time.Hour), now.Add(24*time.Hour), nil)
	late := sign(t, f.newSigner(), in, revokedLate, signer.Options{Level: signer.LevelT})
	lateRep := run(t, late, f.online())
	if lateRep.Signatures[0].Indication != verify.TotalPassed {
		t.Fatalf("before revocation the B-T file does not pass online:\n%s", dump(lateRep))
	}
	lateTS := *lateRep.Signatures[0].TimestampTime
	f.revoke(t, revokedLate.Chain[0], lateTS.Add(time.Second))

	// B-LT with embedded revocation data, revoked afterwards: the data in
	// the document shows it was good at the timestamp.
	revokedAfterLT := f.issueLeaf(t, "นายเก็บหลักฐาน ไว้แล้ว", now.Add(-time.Hour), now.Add(24*time.Hour), nil)
	ltThenRevoked := sign(t, f.newSigner(), in, revokedAfterLT, signer.Options{Level: signer.LevelLT})
	f.revoke(t, revokedAfterLT.Chain[0], time.Now())

	// A certificate for TLS servers only (extendedKeyUsage serverAuth).
	badUsage := f.issueLeaf(t, "นายใช้ ผิดประเภท", now.Add(-time.Hour), now.Add(24*time.Hour), func(c *devpki.CertTemplate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	badUsageFile := sign(t, f.newSigner(), in, badUsage, signer.Options{Level: signer.LevelLT})

	// Tokens over the wrong imprint. A fresh signer's first TSA call
	// learns the TSA; the second stamps the signature; the third, for
	// B-LTA, the document.
	wrongSigTS := &signer.Signer{TSA: &skewedTSA{tsa: f.env.TSAClient(), wrong: map[int]bool{2: true}}, Revocation: f.newSigner().Revocation}
	wrongDocTS := &signer.Signer{TSA: &skewedTSA{tsa: f.env.TSAClient(), wrong: map[int]bool{3: true}}, Revocation: f.newSigner().Revocation}
	cred := f.env.Creds["dev-registrar"]
	badSigTS := sign(t, wrongSigTS, in, cred, signer.Options{Level: signer.LevelT})
	badDocTS := sign(t, wrongDocTS, in, cred, signer.Options{Level: signer.LevelLTA})

	good := sign(t, f.env.Signer, in, cred, signer.Options{Level: signer.LevelLT})

	cases := []struct {
		name   string
		data   []byte
		cfg    verify.Config
		sigs   []want
		doc    verify.Indication
		detail func(t *testing.T, rep *verify.Report)
	}{
		{name: "untrusted root", data: untrusted, cfg: f.online(),
			sigs: []want{{indication: verify.Indeterminate, sub: verify.NoCertificateChainFound, level: verify.LevelT}},
			doc:  verify.Indeterminate},
		{name: "no trust anchors configured", data: good, cfg: verify.Config{},
			sigs: []want{{indication: verify.Indeterminate, sub: verify.NoCertificateChainFound, level: verify.LevelLT}},
			doc:  verify.Indeterminate},
		{name: "B-LT trusted ECDSA signer", data: good, cfg: f.offline(),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT}},
			doc:  verify.TotalPassed,
			detail: func(t *testing.T, rep *verify.Report) {
				s := rep.Signatures[0]
				if s.Signer.CommonName != "นายทะเบียน มหาวิทยาลัยตัวอย่าง" || s.Signer.Organization != "มหาวิทยาลัยตัวอย่าง (Development)" {
					t.Errorf("signer %+v", s.Signer)
				}
				if len(s.Chain) != 3 || s.Revocation.Status != "good" || s.Revocation.Source != "DSS" {
					t.Errorf("chain %v, revocation %+v", s.Chain, s.Revocation)
				}
			}},
		{name: "expired at signing time", data: expiredT, cfg: f.online(),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.Expired, level: verify.LevelT}},
			doc:  verify.TotalFailed},
		{name: "expired, no proof of earlier existence", data: expiredB, cfg: f.online(),
			sigs: []want{{indication: verify.Indeterminate, sub: verify.OutOfBoundsNoPOE, level: verify.LevelB}},
			doc:  verify.Indeterminate},
		{name: "expired before the timestamp, claimed in time", data: expiredLateTS, cfg: f.online(),
			sigs: []want{{indication: verify.Indeterminate, sub: verify.OutOfBoundsNoPOE, level: verify.LevelT}},
			doc:  verify.Indeterminate},
		{name: "revoked before the timestamp", data: early, cfg: f.online(),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.Revoked, level: verify.LevelT}},
			doc:  verify.TotalFailed,
			detail: func(t *testing.T, rep *verify.Report) {
				if r := rep.Signatures[0].Revocation; r.Status != "revoked" || r.RevokedAt == nil || r.Source != "online" {
					t.Errorf("revocation %+v", r)
				}
			}},
		{name: "revoked after the timestamp", data: late, cfg: f.online(),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelT}},
			doc:  verify.TotalPassed,
			detail: func(t *testing.T, rep *verify.Report) {
				s := rep.Signatures[0]
				if s.Revocation.Status != "good" || s.Revocation.RevokedAt == nil || !hasWarning(s.Warnings, "after the time of the signature timestamp") {
					t.Errorf("revocation %+v, warnings %q", s.Revocation, s.Warnings)
				}
			}},
		{name: "revoked after a B-LT signature, offline", data: ltThenRevoked, cfg: f.offline(),
			sigs: []want{{indication: verify.TotalPassed, level: verify.LevelLT}},
			doc:  verify.TotalPassed},
		{name: "B-T without fetching", data: late, cfg: f.offline(),
			sigs: []want{{indication: verify.Indeterminate, sub: verify.TryLater, level: verify.LevelT}},
			doc:  verify.Indeterminate},
		{name: "extended key usage serverAuth only", data: badUsageFile, cfg: f.offline(),
			sigs: []want{{indication: verify.Indeterminate, sub: verify.ChainConstraintsFailure, level: verify.LevelLT}},
			doc:  verify.Indeterminate},
		{name: "signature timestamp over the wrong imprint", data: badSigTS, cfg: f.online(),
			sigs: []want{{indication: verify.TotalFailed, sub: verify.HashFailure, level: verify.LevelT}},
			doc:  verify.TotalFailed},
		{name: "document timestamp over the wrong imprint", data: badDocTS, cfg: f.offline(),
			sigs: []want{
				{indication: verify.TotalPassed, level: verify.LevelLTA},
				{kind: verify.KindDocumentTimestamp, indication: verify.TotalFailed, sub: verify.HashFailure, level: ""},
			},
			doc: verify.TotalFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := run(t, tc.data, tc.cfg)
			checkDoc(t, rep, tc.doc, len(tc.sigs))
			for i, w := range tc.sigs {
				checkSig(t, rep, i, w)
			}
			if tc.detail != nil {
				tc.detail(t, rep)
			}
		})
	}
}

// TestNoFetchWithoutAllowList proves that URLs in a document are not
// fetched unless Config.Fetch's allow-list permits them.
func TestNoFetchWithoutAllowList(t *testing.T) {
	f := newFixture(t)
	var hits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.NotFound(w, r)
	}))
	defer trap.Close()
	now := time.Now()
	cred := f.issueLeaf(t, "นายลิงก์ อันตราย", now.Add(-time.Hour), now.Add(24*time.Hour), func(c *devpki.CertTemplate) {
		c.OCSPServer = []string{trap.URL + "/ocsp"}
		c.CRLDistributionPoints = []string{trap.URL + "/crl"}
		c.IssuingCertificateURL = []string{trap.URL + "/issuer.crt"}
	})
	data := sign(t, f.env.Signer, corpus(t, "memo-chromium.pdf"), cred, signer.Options{Level: signer.LevelT})
	// The untrusted chain's AIA points at the trap too.
	other := sign(t, f.env.Signer, corpus(t, "memo-chromium.pdf"), selfRoot(t, &devpki.CertTemplate{
		OCSPServer: []string{trap.URL + "/ocsp"}, CRLDistributionPoints: []string{trap.URL + "/crl"}, IssuingCertificateURL: []string{trap.URL + "/issuer.crt"},
	}), signer.Options{Level: signer.LevelB})

	for _, tc := range []struct {
		name  string
		allow []string // nil: no Fetch
		fetch bool
	}{
		{name: "Fetch nil", allow: nil},
		{name: "host not allowed", allow: []string{"ocsp.example.org"}},
		{name: "host allowed", allow: []string{trap.URL}, fetch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			cfg := f.offline()
			if tc.allow != nil {
				cfg.Fetch = newOutbound(t, outbound.Options{Allow: tc.allow}, nil)
			}
			for _, d := range [][]byte{data, other} {
				rep := run(t, d, cfg)
				s := rep.Signatures[0]
				if s.Indication == verify.TotalPassed {
					t.Errorf("passed without revocation data:\n%s", dump(rep))
				}
			}
			if n := hits.Load(); (n > 0) != tc.fetch {
				t.Errorf("%d requests reached the URLs in the document; want fetching %v", n, tc.fetch)
			}
		})
	}
}

// TestFetchRefusedDestinations signs with a certificate whose OCSP, CRL
// and caIssuers URLs point where a public verifier must not go, and checks
// that no request reaches the listener there and that the verdict says the
// revocation data could not be fetched.
func TestFetchRefusedDestinations(t *testing.T) {
	f := newFixture(t)
	var hits atomic.Int64
	listen := func(t *testing.T, addr string) string {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Skipf("cannot listen on %s: %v", addr, err)
		}
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.NotFound(w, r)
		}))
		srv.Listener.Close()
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	trap := listen(t, "127.0.0.1:0")
	trapURL, _ := url.Parse(trap)
	byName := "http://crl.example.test:" + trapURL.Port()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap+r.URL.Path, http.StatusFound)
	}))
	defer redirector.Close()
	bigCRL := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-crl")
		w.Write(bytes.Repeat([]byte{0x30}, 2<<20))
	}))
	defer bigCRL.Close()
	resolver := outboundtest.Resolver(t, netip.MustParseAddr("127.0.0.1"))
	env := f.env.Server.URL // the dev PKI, which the chain's CAs need

	tests := []struct {
		name     string
		base     func(t *testing.T) string // of the leaf's URLs
		opts     outbound.Options
		wantErr  string
		wantHits bool // the big CRL server is the one case reached
	}{
		{name: "another loopback port", base: func(*testing.T) string { return trap },
			opts: outbound.Options{Allow: []string{env, "127.0.0.1"}}, wantErr: "not on the allow-list"},
		{name: "IPv6 loopback", base: func(t *testing.T) string { return listen(t, "[::1]:0") },
			opts: outbound.Options{Allow: []string{env, "::1", "http://[::1]"}}, wantErr: "not on the allow-list"},
		{name: "cloud metadata address", base: func(*testing.T) string { return "http://169.254.169.254" },
			opts: outbound.Options{Allow: []string{env, "169.254.169.254", "http://169.254.169.254"}}, wantErr: "not a public address"},
		{name: "name resolving to loopback", base: func(*testing.T) string { return byName },
			opts: outbound.Options{Allow: []string{env, byName}, Resolver: resolver}, wantErr: "not a public address"},
		{name: "redirect from an allowed host", base: func(*testing.T) string { return redirector.URL },
			opts: outbound.Options{Allow: []string{env, redirector.URL}}, wantErr: "not on the allow-list"},
		{name: "oversized CRL", base: func(*testing.T) string { return bigCRL.URL },
			opts: outbound.Options{Allow: []string{env, bigCRL.URL}, MaxResponseBytes: 1 << 20}, wantErr: "too large"},
	}
	now := time.Now()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := tc.base(t)
			cred := f.issueLeaf(t, "นายปลายทาง ต้องห้าม", now.Add(-time.Hour), now.Add(24*time.Hour), func(c *devpki.CertTemplate) {
				c.OCSPServer = []string{base + "/ocsp"}
				c.CRLDistributionPoints = []string{base + "/crl"}
				c.IssuingCertificateURL = []string{base + "/issuer.crt"}
			})
			data := sign(t, f.env.Signer, corpus(t, "memo-chromium.pdf"), cred, signer.Options{Level: signer.LevelT})
			hits.Store(0)
			g := &outboundtest.Guard{}
			cfg := f.offline()
			cfg.Fetch = newOutbound(t, tc.opts, g)
			rep := run(t, data, cfg)
			if n := hits.Load(); n != 0 {
				t.Errorf("%d requests reached the listener", n)
			}
			if b := g.Blocked(); len(b) != 0 {
				t.Errorf("the policy let sockets try %v", b)
			}
			s := rep.Signatures[0]
			if s.Indication != verify.Indeterminate || s.SubIndication != verify.TryLater {
				t.Fatalf("got %s/%s, want INDETERMINATE/TRY_LATER:\n%s", s.Indication, s.SubIndication, dump(rep))
			}
			msg := strings.Join(s.Errors, "\n")
			if !strings.Contains(msg, "fetching failed") || !strings.Contains(msg, tc.wantErr) {
				t.Fatalf("errors %q, want fetching failed with %q", msg, tc.wantErr)
			}
		})
	}
}

// newOutbound returns an outbound client, its sockets kept on loopback
// by g (or a fresh guard).
func newOutbound(t testing.TB, opts outbound.Options, g *outboundtest.Guard) *outbound.Client {
	t.Helper()
	if g == nil {
		g = &outboundtest.Guard{}
	}
	opts.Control = g.Control
	c, err := outbound.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lenientTSA gets tokens from a tsa.Server without checking them, as a
// client of a TSA whose certificate lacks the RFC 3161 profile would.
type lenientTSA struct {
	srv  *tsa.Server
	cert *x509.Certificate
}

func (l *lenientTSA) Timestamp(ctx context.Context, digest []byte, h crypto.Hash) (*tsa.Token, error) {
	req, err := (&timestamp.Request{HashAlgorithm: h, HashedMessage: digest, Certificates: true}).Marshal()
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	hr := httptest.NewRequest(http.MethodPost, "/tsa", bytes.NewReader(req))
	hr.Header.Set("Content-Type", "application/timestamp-query")
	l.srv.ServeHTTP(rec, hr)
	var resp struct {
		Status asn1.RawValue
		Token  asn1.RawValue `asn1:"optional"`
	}
	if _, err := asn1.Unmarshal(rec.Body.Bytes(), &resp); err != nil || len(resp.Token.FullBytes) == 0 {
		return nil, fmt.Errorf("TSA reply: %v", err)
	}
	return &tsa.Token{DER: resp.Token.FullBytes, Time: time.Now(), Hash: h, Certificate: l.cert, Certificates: []*x509.Certificate{l.cert}}, nil
}

// TestUnacceptableTimestamp: a sound token from a TSA certificate without
// a critical timeStamping usage proves nothing, but is no tampering either.
func TestUnacceptableTimestamp(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	cert, err := devpki.IssueCertificate(context.Background(), devpki.CertTemplate{
		Subject: pkixName("Lax TSA"), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}, key.Public(), f.env.PKI.Issuing, f.issuingKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &signer.Signer{TSA: &lenientTSA{srv: &tsa.Server{Signer: key, Certificate: cert, Chain: []*x509.Certificate{f.env.PKI.Issuing}}, cert: cert}}
	data := sign(t, s, corpus(t, "memo-chromium.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelT})
	for _, tc := range []struct {
		cfg verify.Config
		w   want
	}{
		{f.offline(), want{indication: verify.Indeterminate, sub: verify.TryLater, level: verify.LevelT}},
		{f.online(), want{indication: verify.TotalPassed, level: verify.LevelT}},
	} {
		rep := run(t, data, tc.cfg)
		checkSig(t, rep, 0, tc.w)
		if s := rep.Signatures[0]; s.TimestampTime != nil || !hasWarning(s.Warnings, "signature timestamp ignored") {
			t.Errorf("timestamp %v, warnings %q", s.TimestampTime, s.Warnings)
		}
	}
}
