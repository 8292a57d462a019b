package devpki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

var (
	oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidOCSPNoCheck = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 48, 1, 5}
	oidTitle       = asn1.ObjectIdentifier{2, 5, 4, 12}
)

// ekuOIDs maps the x509 key purposes this package issues to their OIDs;
// needed to write a critical extendedKeyUsage by hand.
var ekuOIDs = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

// CertTemplate describes a certificate for IssueCertificate. Tests use it
// to make the odd certificates a verifier must cope with: expired ones,
// ones from untrusted roots, ones without revocation pointers.
type CertTemplate struct {
	Subject pkix.Name
	// SerialNumber defaults to 128 random bits.
	SerialNumber *big.Int
	// NotBefore and NotAfter bound the validity; both are required.
	NotBefore, NotAfter time.Time

	// IsCA makes a CA certificate (basicConstraints cA=TRUE).
	IsCA bool
	// MaxPathLen, for CAs, limits the CA certificates that may follow:
	// negative means unlimited, 0 means this CA issues end-entity
	// certificates only.
	MaxPathLen int

	// KeyUsage is always written critical.
	KeyUsage x509.KeyUsage
	// ExtKeyUsage and UnknownExtKeyUsage form the extendedKeyUsage
	// extension, omitted when both are empty; CriticalEKU marks it critical
	// (RFC 3161 requires that of TSA certificates).
	ExtKeyUsage        []x509.ExtKeyUsage
	UnknownExtKeyUsage []asn1.ObjectIdentifier
	CriticalEKU        bool
	// OCSPNoCheck adds id-pkix-ocsp-nocheck, for OCSP responder certificates.
	OCSPNoCheck bool

	// Authority information access and CRL distribution point URLs.
	OCSPServer            []string
	IssuingCertificateURL []string
	CRLDistributionPoints []string
}

// IssueCertificate signs a certificate for pub with issuerKey. A nil issuer
// makes a self-signed certificate, for which issuerKey must be the key of
// pub. Every certificate gets a subjectKeyIdentifier (the SHA-1 of the key,
// RFC 5280 section 4.2.1.2 method 1) and, when issued by a CA, its
// authorityKeyIdentifier.
func IssueCertificate(ctx context.Context, tmpl CertTemplate, pub crypto.PublicKey, issuer *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if tmpl.NotBefore.IsZero() || tmpl.NotAfter.IsZero() || !tmpl.NotAfter.After(tmpl.NotBefore) {
		return nil, errors.New("devpki: certificate needs NotBefore before NotAfter")
	}
	serial := tmpl.SerialNumber
	if serial == nil {
		var err error
		if serial, err = randomSerial(); err != nil {
			return nil, err
		}
	}
	ski, err := subjectKeyID(pub)
	if err != nil {
		return nil, err
	}
	c := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               tmpl.Subject,
		NotBefore:             tmpl.NotBefore.UTC(),
		NotAfter:              tmpl.NotAfter.UTC(),
		KeyUsage:              tmpl.KeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  tmpl.IsCA,
		SubjectKeyId:          ski,
		OCSPServer:            tmpl.OCSPServer,
		IssuingCertificateURL: tmpl.IssuingCertificateURL,
		CRLDistributionPoints: tmpl.CRLDistributionPoints,
	}
	if tmpl.IsCA {
		c.MaxPathLen = tmpl.MaxPathLen
		c.MaxPathLenZero = tmpl.MaxPathLen == 0
		if tmpl.MaxPathLen < 0 {
			c.MaxPathLen = -1
		}
	}
	if tmpl.CriticalEKU {
		ext, err := ekuExtension(tmpl.ExtKeyUsage, tmpl.UnknownExtKeyUsage)
		if err != nil {
			return nil, err
		}
		c.ExtraExtensions = append(c.ExtraExtensions, ext)
	} else {
		c.ExtKeyUsage = tmpl.ExtKeyUsage
		c.UnknownExtKeyUsage = tmpl.UnknownExtKeyUsage
	}
	if tmpl.OCSPNoCheck {
		c.ExtraExtensions = append(c.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: asn1.NullBytes})
	}
	parent := issuer
	if parent == nil {
		parent = c
	}
	der, err := x509.CreateCertificate(rand.Reader, c, parent, pub, issuerKey)
	if err != nil {
		return nil, fmt.Errorf("devpki: sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("devpki: parse new certificate: %w", err)
	}
	return cert, nil
}

func ekuExtension(known []x509.ExtKeyUsage, unknown []asn1.ObjectIdentifier) (pkix.Extension, error) {
	var oids []asn1.ObjectIdentifier
	for _, u := range known {
		oid, ok := ekuOIDs[u]
		if !ok {
			return pkix.Extension{}, fmt.Errorf("devpki: no OID known for extended key usage %d", u)
		}
		oids = append(oids, oid)
	}
	oids = append(oids, unknown...)
	if len(oids) == 0 {
		return pkix.Extension{}, errors.New("devpki: critical extendedKeyUsage without purposes")
	}
	v, err := asn1.Marshal(oids)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidExtKeyUsage, Critical: true, Value: v}, nil
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("devpki: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// randomSerial returns a positive 128-bit serial: unique without state,
// within the 20 octets RFC 5280 allows.
func randomSerial() (*big.Int, error) {
	s, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devpki: serial number: %w", err)
	}
	return s.Add(s, big.NewInt(1)), nil
}
