package hsm

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
)

// CSROptions tunes CreateCSR. The zero value (or nil) gives a CSR with only a
// subject, signed with SHA-256 (RSA PKCS#1 v1.5, ECDSA P-256) or SHA-384
// (ECDSA P-384).
type CSROptions struct {
	// SignatureAlgorithm signs the request. Default: chosen by crypto/x509
	// from the key, as above. x509.SHA256WithRSAPSS and friends sign PSS.
	SignatureAlgorithm x509.SignatureAlgorithm

	// DNSNames and EmailAddresses go into a subjectAltName extension.
	// Default: none.
	DNSNames       []string
	EmailAddresses []string
}

// CreateCSR returns a DER PKCS#10 certificate request for signer's key with
// the given subject, signed by signer (normally a KeyManager signer, so the
// signature is made in the HSM). Subject strings that are not
// PrintableString, such as Thai names, are encoded as UTF8String. The
// signature is checked before the request is returned.
func CreateCSR(signer crypto.Signer, subject pkix.Name, opts *CSROptions) ([]byte, error) {
	if signer == nil {
		return nil, errors.New("hsm: CreateCSR: nil signer")
	}
	if opts == nil {
		opts = &CSROptions{}
	}
	tmpl := &x509.CertificateRequest{
		Subject:            subject,
		SignatureAlgorithm: opts.SignatureAlgorithm,
		DNSNames:           opts.DNSNames,
		EmailAddresses:     opts.EmailAddresses,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, signer)
	if err != nil {
		return nil, fmt.Errorf("hsm: create CSR for %q: %w", subject.CommonName, err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("hsm: parse created CSR: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("hsm: created CSR does not verify: %w", err)
	}
	return der, nil
}
