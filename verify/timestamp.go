package verify

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"

	"esign/cades"
	"esign/tsa"
)

// tokenResult is the validation of one RFC 3161 token.
type tokenResult struct {
	tok *tsa.Token
	// failed: the token is broken (bad signature, wrong imprint, malformed):
	// evidence of tampering. sub and msg say how.
	failed bool
	// trusted: the TSA chains to a trust anchor at genTime and was not
	// revoked before it; when false and not failed, msg says why.
	trusted   bool
	sub       SubIndication
	msg       string
	sigOK     bool
	imprintOK bool
	chain     []*x509.Certificate
	warnings  []string

	revocationKnown  bool
	revoked          bool
	revocationSource string
}

// checkToken parses and validates a token; digest gives the digest the
// imprint must hold, for the imprint's hash algorithm.
func (v *verifier) checkToken(der []byte, digest func(crypto.Hash) ([]byte, error)) tokenResult {
	tok, err := tsa.ParseToken(der)
	return v.checkParsedToken(tok, err, der, digest)
}

func (v *verifier) checkParsedToken(tok *tsa.Token, parseErr error, der []byte, digest func(crypto.Hash) ([]byte, error)) tokenResult {
	var tr tokenResult
	if parseErr != nil {
		tr.failed = true
		tr.sub, tr.msg = diagnoseToken(der, parseErr, v.certs)
		return tr
	}
	tr.tok = tok
	tr.sigOK = true
	d, err := digest(tok.Hash)
	if err != nil {
		tr.failed, tr.sub, tr.msg = true, FormatFailure, err.Error()
		return tr
	}
	if err := tok.VerifyImprint(d, tok.Hash); err != nil {
		tr.failed, tr.sub = true, HashFailure
		tr.msg = "the timestamp's message imprint does not match the data it should time-stamp"
		return tr
	}
	tr.imprintOK = true
	cr := v.chainAt(tok.Certificate, tok.Time)
	tr.chain = cr.chain
	switch {
	case !cr.trusted:
		tr.sub = chainSub(cr.err)
		tr.msg = fmt.Sprintf("the TSA %q is not trusted: %v", tok.Certificate.Subject.CommonName, unwrapChainErr(cr.err))
		return tr
	case cr.leafExpired || cr.leafNotYetValid || cr.caOutOfBounds:
		tr.sub = OutOfBoundsNoPOE
		tr.msg = fmt.Sprintf("the TSA %q has a certificate path that is not valid at the timestamp's time", tok.Certificate.Subject.CommonName)
		return tr
	}
	// CA certificates that restrict extended key usage must allow time
	// stamping (crypto/x509 checks this nesting only when asked for one
	// usage; the path is shared with signers, so it was built for any).
	for _, c := range tr.chain[1:] {
		if len(c.ExtKeyUsage) > 0 || len(c.UnknownExtKeyUsage) > 0 {
			if !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) && !slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageAny) {
				tr.sub = ChainConstraintsFailure
				tr.msg = fmt.Sprintf("CA %q does not allow time stamping", c.Subject.CommonName)
				return tr
			}
		}
	}
	// The TSA's own status at genTime: revoked before it, the token proves
	// nothing. Missing data is only a warning (see the package doc).
	st := v.ev.chainStatus(tr.chain, tok.Time, false)
	switch {
	case st.revoked != nil:
		tr.failed, tr.sub = true, Revoked
		tr.revoked, tr.revocationKnown = true, true
		tr.msg = fmt.Sprintf("TSA certificate %q was revoked at %s, before the timestamp", st.revoked.Subject.CommonName, fmtTime(st.revokedAt))
		tr.revocationSource = st.source
		return tr
	case st.unknown != nil:
		tr.warnings = append(tr.warnings, fmt.Sprintf("revocation status of TSA certificate %q at %s is unknown", st.unknown.Subject.CommonName, fmtTime(tok.Time)))
	default:
		tr.revocationKnown = true
		tr.revocationSource = st.source
	}
	tr.trusted = true
	return tr
}

// diagnoseToken finds out why a token did not parse, for the
// sub-indication: a signature that does not verify, a content digest that
// does not match, or a malformed token.
func diagnoseToken(der []byte, parseErr error, certs *certCache) (SubIndication, string) {
	p, err := cades.Parse(der)
	if err != nil || p.Signer == nil {
		return FormatFailure, fmt.Sprintf("the timestamp token is malformed: %v", parseErr)
	}
	cert, err := p.SignerCertificate()
	if err != nil {
		cert = certs.find(p.Signer)
	}
	h := p.Signer.DigestAlgorithm
	if cert == nil || h == 0 || !h.Available() {
		return FormatFailure, fmt.Sprintf("the timestamp token cannot be checked: %v", parseErr)
	}
	hh := h.New()
	hh.Write(p.EncapContent)
	err = p.VerifySignatureWith(cert, hh.Sum(nil))
	switch {
	case errors.Is(err, cades.ErrSignatureInvalid):
		return SigCryptoFailure, "the timestamp token's signature does not verify"
	case errors.Is(err, cades.ErrDigestMismatch):
		return HashFailure, "the timestamp token's content does not match its signed digest"
	}
	return FormatFailure, fmt.Sprintf("the timestamp token is not acceptable: %v", parseErr)
}
