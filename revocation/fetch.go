package revocation

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"

	"esign/outbound"
	"esign/sigmemo"
)

var (
	// ErrUnavailable means no usable revocation data could be had for a
	// certificate that needs it (network failure, refused host, stale or
	// broken responses, no OCSP or CRL location).
	ErrUnavailable = errors.New("revocation: revocation data unavailable")
	// ErrNoSource comes with ErrUnavailable when a certificate names no
	// place to ask (no OCSP responder, no CRL, no caIssuers for a missing
	// issuer): a property of the certificate, which no retry changes.
	ErrNoSource = errors.New("revocation: the certificate names no source of revocation data")
	// ErrRevoked is wrapped by *RevokedError.
	ErrRevoked = errors.New("revocation: certificate revoked")
)

// RevokedError reports a certificate that its CA says is revoked.
type RevokedError struct {
	Certificate *x509.Certificate
	RevokedAt   time.Time
	Reason      int    // RFC 5280 CRLReason
	Source      string // the OCSP responder or CRL URL that said so
}

func (e *RevokedError) Error() string {
	return fmt.Sprintf("revocation: certificate %q (serial %x) was revoked at %s, reason %d, according to %s",
		e.Certificate.Subject.String(), e.Certificate.SerialNumber, e.RevokedAt.UTC().Format(time.RFC3339), e.Reason, e.Source)
}

func (e *RevokedError) Unwrap() error { return ErrRevoked }

// Evidence is the validation data gathered for a chain, ready to embed in a
// document security store.
type Evidence struct {
	// Certificates holds the completed chain (leaf first) and then the
	// certificates of delegated OCSP responders, without duplicates.
	Certificates []*x509.Certificate
	// OCSPResponses are DER OCSPResponse messages.
	OCSPResponses [][]byte
	// CRLs are DER CertificateLists.
	CRLs [][]byte
}

// maxChainLength bounds the chain Collect completes through AIA.
const maxChainLength = 8

// clockSkew is tolerated between responders' clocks and ours.
const clockSkew = 5 * time.Minute

// Fetcher collects revocation data for certificate chains.
type Fetcher struct {
	// Client sends the requests and decides where they may go, how long
	// they take and how large the answers may be. Default: a client that
	// reaches any public host (outbound.Options.AnyPublicHost) and
	// nothing on the local network, which suits the signing side; a
	// public verifier must pass a client with an allow-list, or any
	// signed document could make it fetch arbitrary URLs.
	Client *outbound.Client
	// Now is the clock used to judge freshness. Default: time.Now.
	Now func() time.Time

	// sigs remembers the certificate and CRL signatures found valid:
	// every document brings the same chains and CRLs.
	sigs sigmemo.Cache
}

// Collect gets revocation data for every certificate of chain (leaf first,
// root last; the self-signed root needs none): an OCSP response from the
// certificate's AIA responders, checked for signature (by the issuer or a
// delegated responder with extendedKeyUsage OCSPSigning), serial and
// freshness; or else a CRL from its distribution points, checked for
// signature, issuer and freshness. Issuers missing from the chain are
// fetched from AIA caIssuers. A delegated responder certificate without
// id-pkix-ocsp-nocheck gets a CRL of its own.
//
// A revoked certificate yields a *RevokedError (errors.Is ErrRevoked); a
// certificate for which no data could be had yields an error wrapping
// ErrUnavailable.
func (f *Fetcher) Collect(ctx context.Context, chain []*x509.Certificate) (*Evidence, error) {
	if len(chain) == 0 {
		return nil, errors.New("revocation: empty chain")
	}
	full, err := f.completeChain(ctx, chain)
	if err != nil {
		return nil, err
	}
	c := &collection{f: f, crls: map[string]*x509.RevocationList{}}
	for _, cert := range full {
		c.addCert(cert)
	}
	for i, cert := range full {
		if isSelfIssued(cert) {
			break
		}
		if err := c.collect(ctx, cert, full[i+1], true); err != nil {
			return nil, err
		}
	}
	return &c.ev, nil
}

// collection accumulates Evidence during one Collect.
type collection struct {
	f    *Fetcher
	ev   Evidence
	crls map[string]*x509.RevocationList // by URL, fetched once per Collect
}

func (c *collection) addCert(cert *x509.Certificate) {
	for _, have := range c.ev.Certificates {
		if have.Equal(cert) {
			return
		}
	}
	c.ev.Certificates = append(c.ev.Certificates, cert)
}

// collect gets revocation data for cert, OCSP first when allowed.
func (c *collection) collect(ctx context.Context, cert, issuer *x509.Certificate, useOCSP bool) error {
	var failures []error
	if useOCSP {
		for _, u := range cert.OCSPServer {
			done, err := c.tryOCSP(ctx, u, cert, issuer)
			if done {
				return err
			}
			failures = append(failures, fmt.Errorf("OCSP %s: %w", u, err))
		}
	}
	for _, u := range cert.CRLDistributionPoints {
		done, err := c.tryCRL(ctx, u, cert, issuer)
		if done {
			return err
		}
		failures = append(failures, fmt.Errorf("CRL %s: %w", u, err))
	}
	if len(failures) == 0 {
		return fmt.Errorf("%w: %w: certificate %q names no OCSP responder or CRL", ErrUnavailable, ErrNoSource, cert.Subject.String())
	}
	return fmt.Errorf("%w for certificate %q: %w", ErrUnavailable, cert.Subject.String(), errors.Join(failures...))
}

// tryOCSP asks one responder. It reports done when the response settles the
// status (good, or revoked with a *RevokedError).
func (c *collection) tryOCSP(ctx context.Context, u string, cert, issuer *x509.Certificate) (bool, error) {
	req, err := ocsp.CreateRequest(cert, issuer, &ocsp.RequestOptions{Hash: crypto.SHA1}) // SHA-1 CertIDs are what every responder supports (RFC 5019)
	if err != nil {
		return false, err
	}
	der, err := c.f.fetch(ctx, http.MethodPost, u, req, "application/ocsp-request", "application/ocsp-response")
	if err != nil {
		return false, err
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, nil)
	if err != nil {
		return false, fmt.Errorf("parse response: %w", err)
	}
	var delegate *x509.Certificate
	switch {
	case resp.Certificate == nil || resp.Certificate.Equal(issuer):
		if err := resp.CheckSignatureFrom(issuer); err != nil {
			return false, fmt.Errorf("response not signed by the issuer: %w", err)
		}
	default:
		// x/crypto/ocsp checked the signature with the embedded certificate;
		// that certificate must be the issuer's delegate.
		delegate = resp.Certificate
		if err := c.f.sigs.CertificateFrom(delegate, issuer); err != nil {
			return false, fmt.Errorf("responder certificate not issued by the issuer: %w", err)
		}
		if !slices.Contains(delegate.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
			return false, errors.New("responder certificate lacks extendedKeyUsage OCSPSigning")
		}
		now := c.f.now()
		if now.Before(delegate.NotBefore) || now.After(delegate.NotAfter) {
			return false, errors.New("responder certificate is expired or not yet valid")
		}
	}
	if resp.SerialNumber.Cmp(cert.SerialNumber) != 0 {
		return false, errors.New("response is about another serial number")
	}
	if err := c.f.checkFresh(resp.ThisUpdate, resp.NextUpdate); err != nil {
		return false, err
	}
	switch resp.Status {
	case ocsp.Good:
	case ocsp.Revoked:
		return true, &RevokedError{Certificate: cert, RevokedAt: resp.RevokedAt, Reason: resp.RevocationReason, Source: u}
	default:
		return false, errors.New("responder does not know the certificate")
	}
	if delegate != nil {
		if !hasExtension(delegate, oidOCSPNoCheck) {
			// Without ocsp-nocheck the responder's own status must be
			// checked; by CRL, so OCSP does not recurse.
			// %v, not %w: a revoked responder spoils its answer, it does
			// not revoke the certificate asked about.
			if err := c.collect(ctx, delegate, issuer, false); err != nil {
				return false, fmt.Errorf("responder certificate: %v", err)
			}
		}
		c.addCert(delegate)
	}
	c.ev.OCSPResponses = append(c.ev.OCSPResponses, der)
	return true, nil
}

// tryCRL fetches (once per Collect) and checks one CRL. It reports done when
// the CRL settles the status.
func (c *collection) tryCRL(ctx context.Context, u string, cert, issuer *x509.Certificate) (bool, error) {
	crl, ok := c.crls[u]
	if !ok {
		der, err := c.f.fetch(ctx, http.MethodGet, u, nil, "", "")
		if err != nil {
			return false, err
		}
		if crl, err = c.f.checkCRL(der, issuer); err != nil {
			return false, err
		}
		c.crls[u] = crl
		c.ev.CRLs = append(c.ev.CRLs, crl.Raw)
	}
	for _, e := range crl.RevokedCertificateEntries {
		if e.SerialNumber.Cmp(cert.SerialNumber) == 0 {
			return true, &RevokedError{Certificate: cert, RevokedAt: e.RevocationTime, Reason: e.ReasonCode, Source: u}
		}
	}
	return true, nil
}

// checkCRL parses a CRL and checks it is a fresh, complete CRL by issuer.
func (f *Fetcher) checkCRL(der []byte, issuer *x509.Certificate) (*x509.RevocationList, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("parse CRL: %w", err)
	}
	if !bytes.Equal(crl.RawIssuer, issuer.RawSubject) {
		return nil, errors.New("CRL issued by another CA")
	}
	if err := f.sigs.CRLFrom(crl, issuer); err != nil {
		return nil, fmt.Errorf("CRL signature: %w", err)
	}
	for _, ext := range crl.Extensions {
		// Delta CRLs and partitioned CRLs (critical issuingDistributionPoint)
		// do not list every revocation; they cannot stand alone.
		if ext.Critical {
			return nil, fmt.Errorf("CRL has unsupported critical extension %v", ext.Id)
		}
	}
	if err := f.checkFresh(crl.ThisUpdate, crl.NextUpdate); err != nil {
		return nil, err
	}
	return crl, nil
}

func (f *Fetcher) checkFresh(thisUpdate, nextUpdate time.Time) error {
	now := f.now()
	if thisUpdate.After(now.Add(clockSkew)) {
		return fmt.Errorf("issued in the future (%s)", thisUpdate.UTC().Format(time.RFC3339))
	}
	if !nextUpdate.IsZero() && now.After(nextUpdate.Add(clockSkew)) {
		return fmt.Errorf("stale: nextUpdate %s has passed", nextUpdate.UTC().Format(time.RFC3339))
	}
	return nil
}

func (f *Fetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// completeChain returns chain with every missing issuer fetched through AIA
// caIssuers, up to a self-issued certificate.
func (f *Fetcher) completeChain(ctx context.Context, chain []*x509.Certificate) ([]*x509.Certificate, error) {
	out := []*x509.Certificate{chain[0]}
	for {
		cert := out[len(out)-1]
		if isSelfIssued(cert) {
			return out, nil
		}
		if len(out) == maxChainLength {
			return nil, fmt.Errorf("revocation: chain longer than %d certificates", maxChainLength)
		}
		issuer := findIssuer(&f.sigs, cert, chain)
		if issuer == nil {
			var err error
			if issuer, err = f.fetchIssuer(ctx, cert); err != nil {
				return nil, err
			}
		}
		for _, have := range out {
			if have.Equal(issuer) {
				return nil, errors.New("revocation: certificate chain loops")
			}
		}
		out = append(out, issuer)
	}
}

func findIssuer(sigs *sigmemo.Cache, cert *x509.Certificate, candidates []*x509.Certificate) *x509.Certificate {
	for _, c := range candidates {
		if bytes.Equal(cert.RawIssuer, c.RawSubject) && sigs.CertificateFrom(cert, c) == nil {
			return c
		}
	}
	return nil
}

// isSelfIssued reports a root: trust anchors need no revocation data and
// have no issuer to fetch.
func isSelfIssued(c *x509.Certificate) bool {
	if !bytes.Equal(c.RawIssuer, c.RawSubject) {
		return false
	}
	return len(c.AuthorityKeyId) == 0 || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

func (f *Fetcher) fetchIssuer(ctx context.Context, cert *x509.Certificate) (*x509.Certificate, error) {
	var failures []error
	for _, u := range cert.IssuingCertificateURL {
		body, err := f.fetch(ctx, http.MethodGet, u, nil, "", "")
		if err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", u, err))
			continue
		}
		certs, err := parseCertificates(body)
		if err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", u, err))
			continue
		}
		if issuer := findIssuer(&f.sigs, cert, certs); issuer != nil {
			return issuer, nil
		}
		failures = append(failures, fmt.Errorf("%s: no certificate there issued %q", u, cert.Subject.String()))
	}
	if len(failures) == 0 {
		return nil, fmt.Errorf("%w: %w: issuer of %q is not in the chain and the certificate names no caIssuers", ErrUnavailable, ErrNoSource, cert.Subject.String())
	}
	return nil, fmt.Errorf("%w: issuer of %q: %w", ErrUnavailable, cert.Subject.String(), errors.Join(failures...))
}

// parseCertificates reads what caIssuers URLs serve: a DER certificate, PEM
// certificates or a certs-only PKCS#7 bundle (RFC 5280 section 4.2.2.1).
func parseCertificates(b []byte) ([]*x509.Certificate, error) {
	if c, err := x509.ParseCertificate(b); err == nil {
		return []*x509.Certificate{c}, nil
	}
	if bytes.Contains(b, []byte("-----BEGIN")) {
		var certs []*x509.Certificate
		for rest := b; ; {
			var block *pem.Block
			if block, rest = pem.Decode(rest); block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
		if len(certs) > 0 {
			return certs, nil
		}
	}
	return parsePKCS7Certificates(b)
}

func parsePKCS7Certificates(b []byte) ([]*x509.Certificate, error) {
	var ci struct {
		Type    asn1.ObjectIdentifier
		Content asn1.RawValue `asn1:"tag:0"`
	}
	if _, err := asn1.Unmarshal(b, &ci); err != nil || !ci.Type.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}) {
		return nil, errors.New("neither a certificate nor a PKCS#7 bundle")
	}
	var sd struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      asn1.RawValue
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos      asn1.RawValue
	}
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("PKCS#7 bundle: %w", err)
	}
	var certs []*x509.Certificate
	for rest := sd.Certificates.Bytes; len(rest) > 0; {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, fmt.Errorf("PKCS#7 bundle: %w", err)
		}
		if el.Class != asn1.ClassUniversal || el.Tag != asn1.TagSequence {
			continue
		}
		c, err := x509.ParseCertificate(el.FullBytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("PKCS#7 bundle holds no certificate")
	}
	return certs, nil
}

func hasExtension(c *x509.Certificate, oid asn1.ObjectIdentifier) bool {
	for _, e := range c.Extensions {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}

// fetch performs one request through the outbound client. wantType, when
// set, is the content type the answer must have.
func (f *Fetcher) fetch(ctx context.Context, method, rawURL string, body []byte, contentType, wantType string) ([]byte, error) {
	client := f.Client
	if client == nil {
		var err error
		if client, err = outbound.New(outbound.Options{AnyPublicHost: true}); err != nil {
			return nil, err
		}
	}
	resp, err := client.Do(ctx, outbound.Request{Method: method, URL: rawURL, Body: body, ContentType: contentType, Accept: wantType})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if wantType != "" {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != wantType {
			return nil, fmt.Errorf("content type %q, want %s", resp.Header.Get("Content-Type"), wantType)
		}
	}
	return resp.Body, nil
}
