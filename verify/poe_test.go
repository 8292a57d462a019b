package verify_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http/httptest"
	"testing"
	"time"

	"esign/devpki"
	"esign/devstack"
	"esign/extend"
	"esign/signer"
	"esign/tsa"
	"esign/verify"
)

// Validation across time (issue #12): the verifier validates at the
// validation time, Config.Now, set here past the expiry of short-lived
// certificates made for the test, rather than waiting for them to expire.

// shortTSA starts a TSA under the dev issuing CA whose certificate is
// valid for ten minutes from now, which no step of a test waits for: the
// validation time is set past it. Its key is in the SoftHSM token.
func (f *fixture) shortTSA(t *testing.T) (*tsa.Client, *x509.Certificate) {
	t.Helper()
	ctx := context.Background()
	key, err := devstack.KeyStore{KM: f.env.Keys}.Key(ctx, "short-lived-tsa", "RSA-2048")
	if err != nil {
		t.Fatalf("TSA key: %v", err)
	}
	now := time.Now()
	base := f.env.PKI.BaseURL
	cert, err := devpki.IssueCertificate(ctx, devpki.CertTemplate{
		Subject:               pkixName("esign Short-lived TSA"),
		NotBefore:             now.Add(-time.Minute),
		NotAfter:              now.Add(10 * time.Minute),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
		CriticalEKU:           true,
		OCSPServer:            []string{base + devpki.PathOCSP},
		IssuingCertificateURL: []string{base + devpki.PathIssuingCert},
		CRLDistributionPoints: []string{base + devpki.PathIssuingCRL},
	}, key.Public(), f.env.PKI.Issuing, f.issuingKey)
	if err != nil {
		t.Fatalf("TSA certificate: %v", err)
	}
	srv := httptest.NewServer(&tsa.Server{Signer: key, Certificate: cert, Chain: []*x509.Certificate{f.env.PKI.Issuing}})
	t.Cleanup(srv.Close)
	return &tsa.Client{URL: srv.URL}, cert
}

// futureTSA is the dev TSA with its clock set to at: what renewing at
// that time would get.
func (f *fixture) futureTSA(t *testing.T, at time.Time) *tsa.Client {
	t.Helper()
	cred := f.env.PKI.Credentials[devpki.TSA]
	srv := httptest.NewServer(&tsa.Server{
		Signer: cred.Signer, Certificate: cred.Certificate(), Chain: []*x509.Certificate{f.env.PKI.Issuing},
		Now: func() time.Time { return at },
	})
	t.Cleanup(srv.Close)
	return &tsa.Client{URL: srv.URL}
}

// extendWith extends data to B-LTA with a signer stamping through ts.
func (f *fixture) extendWith(t *testing.T, ts signer.Timestamper, data []byte) []byte {
	t.Helper()
	s := f.newSigner()
	s.TSA = ts
	x := extend.New(extend.Config{Signer: s, Verify: f.offline()})
	res, err := x.Extend(context.Background(), bytes.NewReader(data), int64(len(data)), signer.LevelLTA)
	if err != nil {
		t.Fatalf("extend: %v", err)
	}
	var out bytes.Buffer
	if _, err := res.Write(&out, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// at is the offline configuration validating at time t.
func (f *fixture) at(t time.Time) verify.Config {
	cfg := f.offline()
	cfg.Now = func() time.Time { return t }
	return cfg
}

// docTimestamps returns the document timestamps of rep, oldest first.
func docTimestamps(rep *verify.Report) []verify.SignatureResult {
	var out []verify.SignatureResult
	for _, s := range rep.Signatures {
		if s.Kind == verify.KindDocumentTimestamp {
			out = append(out, s)
		}
	}
	return out
}

func TestTSAExpiryAndRenewal(t *testing.T) {
	f := newFixture(t)
	short, shortCert := f.shortTSA(t)
	signed := sign(t, f.env.Signer, corpus(t, "memo-chromium.pdf"), f.env.Creds["dev-official"], signer.Options{Level: signer.LevelT})
	// B-LTA through the short-lived TSA: one document timestamp.
	once := f.extendWith(t, short, signed)
	// Renewed while that TSA certificate is valid: its validation data
	// and a document timestamp from the long-lived dev TSA.
	renewed := f.extendWith(t, f.env.TSAClient(), once)
	// Renewed too late: the dev TSA's clock says after the expiry.
	lateClock := shortCert.NotAfter.Add(10 * time.Minute)
	tooLate := f.extendWith(t, f.futureTSA(t, lateClock), once)

	afterExpiry := f.at(shortCert.NotAfter.Add(time.Hour))

	t.Run("before expiry", func(t *testing.T) {
		rep := run(t, once, f.at(shortCert.NotAfter.Add(-time.Second)))
		checkDoc(t, rep, verify.TotalPassed, 2)
		ts := docTimestamps(rep)[0]
		if ts.ProvenTime != nil || ts.ProofOfExistence == nil || ts.ProofOfExistence.Time != *ts.TimestampTime {
			t.Errorf("document timestamp: proven %v, proof %+v\n%s", ts.ProvenTime, ts.ProofOfExistence, dump(rep))
		}
		if p := ts.ProofOfExistence; p != nil && (len(p.Fields) != 1 || p.Fields[0] != rep.Signatures[0].Field || p.Revisions != ts.Revision) {
			t.Errorf("proof of existence %+v", p)
		}
	})

	t.Run("renewed, validated after expiry", func(t *testing.T) {
		rep := run(t, renewed, afterExpiry)
		checkDoc(t, rep, verify.TotalPassed, 3)
		tss := docTimestamps(rep)
		if len(tss) != 2 {
			t.Fatalf("%d document timestamps\n%s", len(tss), dump(rep))
		}
		first, second := tss[0], tss[1]
		if first.TSA != shortCert.Subject.CommonName {
			t.Fatalf("first timestamp by %q", first.TSA)
		}
		// The second timestamp proves the first token existed while its
		// TSA certificate was valid.
		if first.ProvenTime == nil || !first.ProvenTime.Equal(*second.TimestampTime) ||
			first.ProvenBy != verify.ProvenByDocumentTimestamp || first.ProvenByField != second.Field {
			t.Errorf("first timestamp proven %v by %s %q, want %v by %q", first.ProvenTime, first.ProvenBy, first.ProvenByField, second.TimestampTime, second.Field)
		}
		if second.ProvenTime != nil || second.ProofOfExistence == nil || len(second.ProofOfExistence.Fields) != 2 {
			t.Errorf("second timestamp: proven %v, proof %+v", second.ProvenTime, second.ProofOfExistence)
		}
		sig := rep.Signatures[0]
		if sig.ProvenBy != verify.ProvenBySignatureTimestamp || sig.ProvenTime == nil || !sig.ProvenTime.Equal(*sig.TimestampTime) {
			t.Errorf("signature proven %v by %q, timestamp %v", sig.ProvenTime, sig.ProvenBy, sig.TimestampTime)
		}
	})

	t.Run("not renewed, validated after expiry", func(t *testing.T) {
		rep := run(t, once, afterExpiry)
		checkDoc(t, rep, verify.Indeterminate, 2)
		checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLTA})
		checkSig(t, rep, 1, want{kind: verify.KindDocumentTimestamp, indication: verify.Indeterminate, sub: verify.OutOfBoundsNoPOE})
		if rep.Document.SubIndication != verify.OutOfBoundsNoPOE {
			t.Errorf("document sub-indication %s", rep.Document.SubIndication)
		}
	})

	t.Run("renewed after expiry", func(t *testing.T) {
		rep := run(t, tooLate, f.at(lateClock.Add(time.Hour)))
		checkDoc(t, rep, verify.Indeterminate, 3)
		tss := docTimestamps(rep)
		if len(tss) != 2 || tss[0].Indication != verify.Indeterminate || tss[0].SubIndication != verify.OutOfBoundsNoPOE ||
			tss[1].Indication != verify.TotalPassed {
			t.Errorf("timestamps not as expected\n%s", dump(rep))
		}
		// The late timestamp still proves the signature: it is valid.
		checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLTA})
	})

	t.Run("signature timestamp TSA expired, covered in time", func(t *testing.T) {
		// A B-T signature stamped by the short-lived TSA, extended by the
		// dev TSA before that expired: the signature timestamp still
		// counts, proven by the document timestamp.
		bt := sign(t, &signer.Signer{TSA: short, Revocation: f.newSigner().Revocation}, corpus(t, "memo-chromium.pdf"),
			f.env.Creds["dev-official"], signer.Options{Level: signer.LevelT})
		lta := f.extendWith(t, f.env.TSAClient(), bt)
		rep := run(t, lta, afterExpiry)
		checkDoc(t, rep, verify.TotalPassed, 2)
		if s := rep.Signatures[0]; s.ProvenBy != verify.ProvenBySignatureTimestamp || s.TSA != shortCert.Subject.CommonName {
			t.Errorf("signature proven by %q, TSA %q\n%s", s.ProvenBy, s.TSA, dump(rep))
		}
		// Without the document timestamp the signature timestamp proves
		// nothing after its TSA expired.
		rep = run(t, bt, afterExpiry)
		if s := rep.Signatures[0]; s.ProvenTime != nil || s.TimestampTime != nil || !hasWarning(s.Warnings, "signature timestamp ignored") {
			t.Errorf("expired signature timestamp still counts\n%s", dump(rep))
		}
	})

	// Last, as it changes what the dev OCSP responder says.
	t.Run("TSA revoked after the renewal", func(t *testing.T) {
		// After the second timestamp, in whole seconds as OCSP has it.
		tss := docTimestamps(run(t, renewed, f.offline()))
		revokedAt := tss[1].TimestampTime.Truncate(time.Second).Add(time.Second)
		f.revoke(t, shortCert, revokedAt)
		online := f.online()
		online.Now = func() time.Time { return revokedAt.Add(time.Minute) }
		// Renewed: the DSS holds the TSA's status from before, and the
		// second timestamp proves the first token existed then.
		checkDoc(t, run(t, renewed, online), verify.TotalPassed, 3)
		// Not renewed, and without the DSS Extend adds after its
		// timestamp: the revocation, learnt online, comes after the
		// token's time but nothing proves the token existed before it.
		ts := docTimestamps(run(t, once, f.offline()))[0]
		rep := run(t, once[:ts.RevisionLength], online)
		checkSig(t, rep, 1, want{kind: verify.KindDocumentTimestamp, indication: verify.Indeterminate, sub: verify.RevokedNoPOE})
	})
}

func TestSignerExpiresAfterDocumentTimestamp(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	cred := f.issueLeaf(t, "นายอายุสั้น ทดสอบ", now.Add(-time.Hour), now.Add(10*time.Minute), nil)
	bb := sign(t, f.newSigner(), corpus(t, "memo-chromium.pdf"), cred, signer.Options{Level: signer.LevelB})
	lta := f.extendWith(t, f.env.TSAClient(), bb)
	later := f.at(cred.Chain[0].NotAfter.Add(time.Hour))

	rep := run(t, lta, later)
	checkDoc(t, rep, verify.TotalPassed, 3)
	checkSig(t, rep, 0, want{indication: verify.TotalPassed, level: verify.LevelLTA})
	s, first := rep.Signatures[0], docTimestamps(rep)[0]
	if s.ProvenTime == nil || !s.ProvenTime.Equal(*first.TimestampTime) || s.ProvenBy != verify.ProvenByDocumentTimestamp ||
		s.ProvenByField != first.Field || !s.BestSignatureTime.Equal(*first.TimestampTime) {
		t.Errorf("signature proven %v by %s %q, best %v; first timestamp %v", s.ProvenTime, s.ProvenBy, s.ProvenByField, s.BestSignatureTime, first.TimestampTime)
	}

	// The same signature without a document timestamp: nothing proves it
	// existed while the certificate was valid.
	rep = run(t, bb, later)
	checkSig(t, rep, 0, want{indication: verify.Indeterminate, sub: verify.OutOfBoundsNoPOE, level: verify.LevelB})
}

// TestRevocationAroundProof: a B-B signature covered by a document
// timestamp, its certificate revoked after or before that proof; the
// verifier learns of the revocation online, since the revision checked
// holds no DSS.
func TestRevocationAroundProof(t *testing.T) {
	f := newFixture(t)
	now := time.Now()
	// signed extends a B-B signature by cred and returns the file up to
	// its first document timestamp, which Extend adds before any DSS,
	// and that timestamp's time.
	signed := func(cred signer.Credential) ([]byte, time.Time) {
		t.Helper()
		// Claims to have signed an hour ago, so that only a proof of
		// existence can settle a revocation after that.
		bb := sign(t, f.newSigner(), corpus(t, "memo-chromium.pdf"), cred, signer.Options{Level: signer.LevelB, Time: now.Add(-time.Hour)})
		lta := f.extendWith(t, f.env.TSAClient(), bb)
		ts := docTimestamps(run(t, lta, f.offline()))[0]
		return lta[:ts.RevisionLength], *ts.TimestampTime
	}
	after := f.issueLeaf(t, "นางสาวเพิกถอน หลังหลักฐาน", now.Add(-2*time.Hour), now.Add(24*time.Hour), nil)
	afterDoc, afterTS := signed(after)
	f.revoke(t, after.Chain[0], afterTS.Add(time.Second))

	before := f.issueLeaf(t, "นายเพิกถอน ก่อนหลักฐาน", now.Add(-2*time.Hour), now.Add(24*time.Hour), nil)
	beforeDoc, beforeTS := signed(before)
	f.revoke(t, before.Chain[0], beforeTS.Add(-10*time.Minute))

	t.Run("revoked after the proof", func(t *testing.T) {
		rep := run(t, afterDoc, f.online())
		checkDoc(t, rep, verify.TotalPassed, 2)
		s := rep.Signatures[0]
		if s.Level != verify.LevelT || s.Revocation.Status != "good" || s.Revocation.RevokedAt == nil ||
			!hasWarning(s.Warnings, "after the time of document timestamp") {
			t.Errorf("level %s, revocation %+v, warnings %q", s.Level, s.Revocation, s.Warnings)
		}
	})
	t.Run("revoked before the proof", func(t *testing.T) {
		rep := run(t, beforeDoc, f.online())
		checkSig(t, rep, 0, want{indication: verify.Indeterminate, sub: verify.RevokedNoPOE, level: verify.LevelT})
		if r := rep.Signatures[0].Revocation; r.Status != "revoked" || r.RevokedAt == nil {
			t.Errorf("revocation %+v", r)
		}
	})
}
