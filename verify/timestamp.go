package verify

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

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
	// revokedLater is when the TSA's certificate was revoked, after
	// genTime; nil when it was not.
	revokedLater *time.Time
}

// checkParsedToken validates a token tsa.ParseToken returned (or the
// error it gave for der); digest gives the digest the imprint must hold,
// for the imprint's hash algorithm.
func (v *verifier) checkParsedToken(tok *tsa.Token, parseErr error, der []byte, digest func(crypto.Hash) ([]byte, error)) tokenResult {
	var tr tokenResult
	if parseErr != nil {
		tr.sub, tr.msg, tr.failed = diagnoseToken(der, parseErr, v.certs, digest)
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
	tr.revokedLater = st.revokedLater
	tr.trusted = true
	return tr
}

// diagnoseToken looks at a token tsa.ParseToken refused, to tell a broken
// token (malformed, a signature that does not verify, the wrong imprint:
// failed) from a sound one this verifier does not accept (SHA-1, no TSA
// certificate in it, a TSA certificate without the RFC 3161 profile):
// that one proves nothing but is no sign of tampering.
func diagnoseToken(der []byte, parseErr error, certs *certCache, digest func(crypto.Hash) ([]byte, error)) (sub SubIndication, msg string, failed bool) {
	p, err := cades.Parse(der)
	if err != nil || p.Signer == nil || !p.EncapContentType.Equal(cades.OIDTSTInfo) {
		return FormatFailure, fmt.Sprintf("the timestamp token is malformed: %v", parseErr), true
	}
	cert, err := p.SignerCertificate()
	if err != nil {
		cert = certs.find(p.Signer)
	}
	h := p.Signer.DigestAlgorithm
	if cert == nil || h == 0 || !h.Available() {
		return SigConstraintsFailure, fmt.Sprintf("the timestamp token cannot be checked: %v", parseErr), false
	}
	hh := h.New()
	hh.Write(p.EncapContent)
	err = p.VerifySignatureWith(cert, hh.Sum(nil))
	switch {
	case errors.Is(err, cades.ErrSignatureInvalid):
		return SigCryptoFailure, "the timestamp token's signature does not verify", true
	case errors.Is(err, cades.ErrDigestMismatch):
		return HashFailure, "the timestamp token's content does not match its signed digest", true
	case err != nil:
		return SigConstraintsFailure, fmt.Sprintf("the timestamp token is not acceptable: %v", parseErr), false
	}
	ih, imprint, err := tstImprint(p.EncapContent)
	if err != nil {
		return FormatFailure, fmt.Sprintf("the timestamp token's TSTInfo is malformed: %v", err), true
	}
	if want, err := digest(ih); err == nil && !bytes.Equal(want, imprint) {
		return HashFailure, "the timestamp's message imprint does not match the data it should time-stamp", true
	}
	return SigConstraintsFailure, fmt.Sprintf("the timestamp token is not acceptable: %v", parseErr), false
}

// tstImprint reads the message imprint of a TSTInfo (RFC 3161 §2.4.2):
// version, policy, then messageImprint; what follows is not needed.
func tstImprint(der []byte) (crypto.Hash, []byte, error) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return 0, nil, err
	}
	if seq.Tag != asn1.TagSequence || !seq.IsCompound {
		return 0, nil, errors.New("not a SEQUENCE")
	}
	rest := seq.Bytes
	var version int
	var policy asn1.ObjectIdentifier
	var mi struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	var err error
	for _, v := range []any{&version, &policy, &mi} {
		if rest, err = asn1.Unmarshal(rest, v); err != nil {
			return 0, nil, err
		}
	}
	h, ok := cades.HashFromOID(mi.Algorithm.Algorithm)
	if !ok || !h.Available() {
		return 0, nil, fmt.Errorf("imprint algorithm %v not supported", mi.Algorithm.Algorithm)
	}
	return h, mi.Digest, nil
}
