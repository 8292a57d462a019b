package verify

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"sort"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/cades"
	"esign/sigmemo"
)

// maxPoolCertificates bounds the certificates gathered from one document.
const maxPoolCertificates = 2000

// certCache holds every certificate found in the document (CMS, tokens,
// DSS), the untrusted intermediates of path building.
type certCache struct {
	all  []*x509.Certificate
	seen map[string]bool
	dss  map[string]bool // certificates the DSS holds
	pool *x509.CertPool
}

func newCertCache() *certCache {
	return &certCache{seen: map[string]bool{}, dss: map[string]bool{}, pool: x509.NewCertPool()}
}

func (c *certCache) add(certs ...*x509.Certificate) {
	for _, x := range certs {
		if x == nil || c.seen[string(x.Raw)] || len(c.all) >= maxPoolCertificates {
			continue
		}
		c.seen[string(x.Raw)] = true
		c.all = append(c.all, x)
		c.pool.AddCert(x)
	}
}

// find returns the certificate a SignerInfo identifies, or nil.
func (c *certCache) find(si *cades.SignerInfo) *x509.Certificate {
	if si == nil {
		return nil
	}
	for _, x := range c.all {
		if si.Identifies(x) {
			return x
		}
	}
	return nil
}

// chainSub maps a path-building error to a sub-indication.
func chainSub(err error) SubIndication {
	var ua x509.UnknownAuthorityError
	var ci x509.CertificateInvalidError
	switch {
	case errors.As(err, &ua):
		return NoCertificateChainFound
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		return OutOfBoundsNoPOE
	}
	return CertificateChainGeneralFailure
}

func unwrapChainErr(err error) error {
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		return errors.New("no path to a trust anchor")
	}
	return err
}

// orderChain builds leaf..root as far as the certificates at hand go; for
// reporting a chain that did not verify.
func (v *verifier) orderChain(leaf *x509.Certificate, pool []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	for len(chain) < 10 && !bytes.Equal(cur.RawIssuer, cur.RawSubject) {
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && !c.Equal(cur) && v.checkSig(cur, c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			break
		}
		chain = append(chain, next)
		cur = next
	}
	return chain
}

// chainResult is a certificate path and how it fares at one time.
type chainResult struct {
	chain   []*x509.Certificate
	trusted bool
	err     error
	// Set when the path is trusted but not every certificate is valid at
	// the time asked about.
	leafExpired, leafNotYetValid, caOutOfBounds bool
}

// chainAt builds a path from leaf to a trust anchor with every
// certificate valid at t. When the path exists only at another time,
// trusted is true and the flags report the time problem. Trust does not
// depend on time, so a path found once per call is reused for other
// times: path building verifies signatures, the costliest step.
func (v *verifier) chainAt(leaf *x509.Certificate, t time.Time) chainResult {
	key := chainKey{roots: v.cfg.Roots, leaf: sha256.Sum256(leaf.Raw)}
	chain, ok := v.chains[key.leaf]
	if !ok && v.cfg.Cache != nil {
		chain = v.cfg.Cache.chain(key)
		ok = chain != nil
	}
	if !ok {
		var err error
		chain, err = v.buildChain(leaf, t)
		if err != nil {
			return chainResult{chain: v.orderChain(leaf, v.certs.all), err: err}
		}
		if v.cfg.Cache != nil {
			v.cfg.Cache.putChain(key, chain)
		}
	}
	v.chains[key.leaf] = chain
	r := chainResult{chain: chain, trusted: true}
	for i, c := range chain {
		if !t.Before(c.NotBefore) && !t.After(c.NotAfter) {
			continue
		}
		r.err = x509.CertificateInvalidError{Cert: c, Reason: x509.Expired}
		switch {
		case i > 0:
			r.caOutOfBounds = true
		case t.After(c.NotAfter):
			r.leafExpired = true
		default:
			r.leafNotYetValid = true
		}
	}
	return r
}

// buildChain finds a path with crypto/x509, at t or, when some
// certificate is not valid then, at a time inside the leaf's validity.
func (v *verifier) buildChain(leaf *x509.Certificate, t time.Time) ([]*x509.Certificate, error) {
	opts := x509.VerifyOptions{
		Roots:         v.cfg.Roots,
		Intermediates: v.certs.pool,
		CurrentTime:   t,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}
	chains, err := leaf.Verify(opts)
	if err == nil {
		return chains[0], nil
	}
	var ci x509.CertificateInvalidError
	if !errors.As(err, &ci) || ci.Reason != x509.Expired {
		return nil, err
	}
	probe := t
	if t.After(leaf.NotAfter) {
		probe = leaf.NotAfter
	} else if t.Before(leaf.NotBefore) {
		probe = leaf.NotBefore
	}
	if probe.Equal(t) {
		// The leaf is valid at t: a CA is not. Try the CA's own window,
		// bounded by the leaf's.
		for _, c := range v.orderChain(leaf, v.certs.all)[1:] {
			if t.Before(c.NotBefore) || t.After(c.NotAfter) {
				probe = c.NotBefore
				if t.After(c.NotAfter) {
					probe = c.NotAfter
				}
				break
			}
		}
	}
	opts.CurrentTime = probe
	chains, err2 := leaf.Verify(opts)
	if err2 != nil {
		if errors.As(err2, &ci) && ci.Reason == x509.Expired {
			return nil, err
		}
		return nil, err2
	}
	return chains[0], nil
}

// checkSig verifies that parent signed child, once per call (and once per
// Cache).
func (v *verifier) checkSig(child, parent *x509.Certificate) error {
	return v.memoSig(sigmemo.Key('c', child.RawTBSCertificate, child.Signature, parent.Raw), func() error {
		return child.CheckSignatureFrom(parent)
	})
}

// checkOCSPSig verifies that signer signed the OCSP response.
func (v *verifier) checkOCSPSig(resp *ocsp.Response, signer *x509.Certificate) error {
	// The algorithm lies outside the signed data: it is part of the key.
	signed := append([]byte(resp.SignatureAlgorithm.String()+"\x00"), resp.TBSResponseData...)
	return v.memoSig(sigmemo.Key('o', signed, resp.Signature, signer.Raw), func() error {
		return resp.CheckSignatureFrom(signer)
	})
}

// checkCRLSig verifies that issuer signed crl.
func (v *verifier) checkCRLSig(crl *x509.RevocationList, issuer *x509.Certificate) error {
	return v.memoSig(sigmemo.Key('r', crl.RawTBSRevocationList, crl.Signature, issuer.Raw), func() error {
		return crl.CheckSignatureFrom(issuer)
	})
}

// maxSignatureChecks bounds the signatures (of certificates, CRLs and
// OCSP responses) one call checks afresh: a file can carry thousands of
// certificates with one subject, and trying each against each would run
// for hours.
const maxSignatureChecks = 4000

// errTooManyChecks stands for a signature check the call's budget did not
// allow: it fails like a signature that does not verify.
var errTooManyChecks = errors.New("verify: too many signature checks for one document")

func (v *verifier) memoSig(key [32]byte, check func() error) error {
	if err, ok := v.sigChecks[key]; ok {
		return err
	}
	err, ok := error(nil), false
	if v.cfg.Cache != nil {
		err, ok = v.cfg.Cache.sig(key)
	}
	if !ok {
		if v.freshChecks++; v.freshChecks > maxSignatureChecks {
			return errTooManyChecks
		}
		if err := v.ctx.Err(); err != nil {
			return err
		}
		err = check()
		if v.cfg.Cache != nil {
			v.cfg.Cache.putSig(key, err)
		}
	}
	v.sigChecks[key] = err
	return err
}

// Extended key usages that allow signing documents: RFC 5280 has none
// for it, so products accept these (RFC 9336 documentSigning, Adobe
// Authentic Documents Trust, Microsoft document signing, and the e-mail
// and client purposes personal certificates commonly carry).
var (
	oidEKUDocumentSigning   = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 36}
	oidEKUAdobeAuthenticDoc = asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 5}
	oidEKUMSDocumentSigning = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 10, 3, 12}
)

// usableForSigning checks the signer certificate's key usage and extended
// key usage.
func usableForSigning(c *x509.Certificate) error {
	if c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return errors.New("the signer's certificate key usage allows neither digitalSignature nor nonRepudiation")
	}
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return nil
	}
	for _, u := range c.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageAny, x509.ExtKeyUsageEmailProtection, x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageCodeSigning:
			return nil
		}
	}
	for _, u := range c.UnknownExtKeyUsage {
		if u.Equal(oidEKUDocumentSigning) || u.Equal(oidEKUAdobeAuthenticDoc) || u.Equal(oidEKUMSDocumentSigning) {
			return nil
		}
	}
	return errors.New("the signer's certificate extended key usage does not allow signing documents")
}

// checkSigner validates the signer's certificate path, its usage, its
// validity at the best signature time and its revocation status.
func (v *verifier) checkSigner(s *sigCtx) {
	leaf, res := s.leaf, s.res
	if err := usableForSigning(leaf); err != nil {
		s.indeterminate(ChainConstraintsFailure, "%v", err)
	}
	cr := v.chainAt(leaf, s.best)
	s.chain = cr.chain
	for _, c := range cr.chain {
		res.Chain = append(res.Chain, c.Subject.String())
	}
	if !cr.trusted {
		sub := chainSub(cr.err)
		if sub == OutOfBoundsNoPOE {
			s.indeterminate(sub, "no certificate path valid at %s: %v", fmtTime(s.best), cr.err)
		} else {
			s.indeterminate(sub, "the signer's certificate does not chain to a trust anchor: %v", unwrapChainErr(cr.err))
		}
		return
	}
	s.trusted = true
	when := s.provenWhen()
	switch {
	case cr.leafExpired:
		// With its own timestamp after expiry, or a claim to have signed
		// after it, the signature was made with an expired certificate;
		// otherwise it may have been made in time but nothing proves it
		// (a document timestamp proves only that it existed by then).
		switch {
		case s.claimed == nil && s.tsTime != nil || s.claimed != nil && s.claimed.After(leaf.NotAfter):
			s.fail(Expired, "the signer's certificate expired at %s, before %s (%s)", fmtTime(leaf.NotAfter), when, fmtTime(s.best))
		case s.poe != nil:
			s.indeterminate(OutOfBoundsNoPOE, "the signer's certificate expired at %s, before %s (%s), the earliest proof that the signature existed", fmtTime(leaf.NotAfter), when, fmtTime(s.best))
		default:
			s.indeterminate(OutOfBoundsNoPOE, "the signer's certificate expired at %s and nothing proves the signature existed before", fmtTime(leaf.NotAfter))
		}
		return
	case cr.leafNotYetValid:
		s.fail(NotYetValid, "the signer's certificate is valid only from %s, after %s (%s)", fmtTime(leaf.NotBefore), when, fmtTime(s.best))
		return
	case cr.caOutOfBounds:
		s.indeterminate(OutOfBoundsNoPOE, "a CA certificate of the path is not valid at %s", fmtTime(s.best))
		return
	}
	v.checkRevocation(s)
}

// checkRevocation settles the status of the signer's path at the best
// signature time.
func (v *verifier) checkRevocation(s *sigCtx) {
	st := v.ev.chainStatus(s.chain, s.best, true)
	res := s.res
	res.Revocation.Source = st.source
	switch {
	case st.revoked != nil:
		at := st.revokedAt.UTC()
		res.Revocation.Status = "revoked"
		res.Revocation.RevokedAt = &at
		if st.revoked != s.leaf {
			s.indeterminate(RevokedCANoPOE, "CA certificate %q was revoked at %s, before %s", st.revoked.Subject.CommonName, fmtTime(at), fmtTime(s.best))
			return
		}
		if s.tsTime != nil || (s.claimed != nil && !s.claimed.Before(at)) {
			s.fail(Revoked, "the signer's certificate was revoked at %s, before the signature's %s (%s)", fmtTime(at), map[bool]string{true: "timestamp", false: "claimed signing time"}[s.tsTime != nil], fmtTime(s.best))
			return
		}
		if s.poe != nil {
			s.indeterminate(RevokedNoPOE, "the signer's certificate was revoked at %s, before %s (%s), the earliest proof that the signature existed", fmtTime(at), s.provenWhen(), fmtTime(s.best))
			return
		}
		s.indeterminate(RevokedNoPOE, "the signer's certificate was revoked at %s and no timestamp proves the signature existed before", fmtTime(at))
	case st.unknown != nil:
		s.indeterminate(TryLater, "no revocation information establishes the status of %q at %s%s", st.unknown.Subject.CommonName, fmtTime(s.best), st.why)
	default:
		res.Revocation.Status = "good"
		if st.revokedLater != nil {
			at := st.revokedLater.UTC()
			res.Revocation.RevokedAt = &at
			s.warn("the signer's certificate was revoked at %s, after %s (%s); the signature stays valid", fmtTime(at), s.provenWhen(), fmtTime(s.best))
		}
	}
}

func sortStrings(ss []string) { sort.Strings(ss) }

// provenWhen names the time the signature is judged at.
func (s *sigCtx) provenWhen() string {
	switch {
	case s.poe == nil:
		return "the validation time"
	case s.res.ProvenBy == ProvenByDocumentTimestamp:
		return fmt.Sprintf("the time of document timestamp %q", s.res.ProvenByField)
	}
	return "the time of the signature timestamp"
}
