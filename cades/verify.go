package cades

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"reflect"
)

// DigestAlgorithm is the hash the caller must digest the signed content with before calling
// VerifySignature; 0 when there is no single signer or its algorithm is unsupported.
func (p *Parsed) DigestAlgorithm() crypto.Hash {
	if p.Signer == nil {
		return 0
	}
	return p.Signer.DigestAlgorithm
}

// SignerCertificate returns the certificate of the SignedData that the signer identifier names
// (issuer and serial number, or subject key identifier).
func (p *Parsed) SignerCertificate() (*x509.Certificate, error) {
	if p.Signer == nil {
		return nil, ErrSignerCount
	}
	for _, c := range p.Certificates {
		if p.Signer.Identifies(c) {
			return c, nil
		}
	}
	return nil, ErrNoSignerCert
}

// Identifies reports whether the signer identifier names cert.
func (si *SignerInfo) Identifies(cert *x509.Certificate) bool {
	if si.SubjectKeyID != nil {
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(cert.SubjectKeyId, si.SubjectKeyID)
	}
	return si.SerialNumber != nil && cert.SerialNumber != nil &&
		cert.SerialNumber.Cmp(si.SerialNumber) == 0 && sameName(cert.RawIssuer, si.IssuerRaw)
}

// sameName compares two DER Names: byte-equal, or equal after decoding (which ignores the choice
// of string type, a common difference between a CA's encoding and a signer's copy).
func sameName(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var na, nb pkix.RDNSequence
	if rest, err := asn1.Unmarshal(a, &na); err != nil || len(rest) != 0 {
		return false
	}
	if rest, err := asn1.Unmarshal(b, &nb); err != nil || len(rest) != 0 {
		return false
	}
	return reflect.DeepEqual(na, nb)
}

// VerifySignature verifies the single signer with the certificate the SignedData carries for it.
// See VerifySignatureWith.
func (p *Parsed) VerifySignature(contentDigest []byte) error {
	cert, err := p.SignerCertificate()
	if err != nil {
		return err
	}
	return p.VerifySignatureWith(cert, contentDigest)
}

// VerifySignatureWith verifies the single signer with cert's public key (for when the signer's
// certificate comes from elsewhere, e.g. a PDF DSS). contentDigest is the digest of the signed
// content computed with DigestAlgorithm. With signed attributes it checks that content-type is
// present and equals the encapsulated content type (ErrMissingAttribute, ErrContentTypeMismatch),
// that message-digest equals contentDigest (ErrDigestMismatch), and the signature over the DER
// signed attributes (ErrSignatureInvalid); without, the signature over contentDigest. All failures
// found are joined, so errors.Is works for each.
func (p *Parsed) VerifySignatureWith(cert *x509.Certificate, contentDigest []byte) error {
	if p.Signer == nil {
		return ErrSignerCount
	}
	if cert == nil {
		return ErrNoSignerCert
	}
	si := p.Signer
	if si.algErr != nil {
		return si.algErr
	}
	h := si.DigestAlgorithm
	if !h.Available() {
		return fmt.Errorf("%w: digest %v", ErrUnsupportedAlgorithm, h)
	}
	if len(contentDigest) != h.Size() {
		return fmt.Errorf("cades: content digest is %d bytes, %v needs %d", len(contentDigest), h, h.Size())
	}
	var errs []error
	hashed := contentDigest
	if si.SignedAttrsSet != nil {
		switch {
		case si.ContentType == nil:
			errs = append(errs, fmt.Errorf("%w: content-type", ErrMissingAttribute))
		case !si.ContentType.Equal(p.EncapContentType):
			errs = append(errs, fmt.Errorf("%w: attribute %v, encapsulated %v", ErrContentTypeMismatch, si.ContentType, p.EncapContentType))
		}
		switch {
		case si.MessageDigest == nil:
			errs = append(errs, fmt.Errorf("%w: message-digest", ErrMissingAttribute))
		case !bytes.Equal(si.MessageDigest, contentDigest):
			errs = append(errs, ErrDigestMismatch)
		}
		hashed = digestOf(h, si.SignedAttrsSet)
	} else if si.kind == kindEd25519 {
		// PureEdDSA signs the content itself, which the caller did not pass.
		return fmt.Errorf("%w: Ed25519 without signed attributes", ErrUnsupportedAlgorithm)
	}
	if err := si.verifyValue(cert.PublicKey, hashed); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// verifyValue checks the signature value over hashed (the digest of the signed attributes, or of
// the content when there are none).
func (si *SignerInfo) verifyValue(pub crypto.PublicKey, hashed []byte) error {
	h := si.DigestAlgorithm
	var err error
	switch si.kind {
	case kindRSAPKCS1, kindRSAPSS:
		k, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: %T key for an RSA signature", ErrSignatureInvalid, pub)
		}
		if si.kind == kindRSAPSS {
			err = rsa.VerifyPSS(k, si.pssHash, hashed, si.Signature, &rsa.PSSOptions{SaltLength: si.PSSSaltLength, Hash: si.pssHash})
		} else {
			err = rsa.VerifyPKCS1v15(k, h, hashed, si.Signature)
		}
	case kindECDSA:
		k, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%w: %T key for an ECDSA signature", ErrSignatureInvalid, pub)
		}
		if !ecdsa.VerifyASN1(k, hashed, si.Signature) {
			err = errors.New("ECDSA verification failed")
		}
	case kindEd25519:
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("%w: %T key for an Ed25519 signature", ErrSignatureInvalid, pub)
		}
		if !ed25519.Verify(k, si.SignedAttrsSet, si.Signature) {
			err = errors.New("Ed25519 verification failed")
		}
	default:
		return fmt.Errorf("%w: signature algorithm %v", ErrUnsupportedAlgorithm, si.SignatureAlgorithmOID)
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignatureInvalid, err)
	}
	return nil
}

// CheckSigningCertificate verifies that the signing-certificate-v2 and/or signing-certificate
// (v1) attributes identify cert: the certificate hash and, when present, IssuerSerial. Both are
// checked when both are present. It returns ErrNoSigningCertAttr when neither is present and
// ErrSigningCertMismatch when one does not match.
func (p *Parsed) CheckSigningCertificate(cert *x509.Certificate) error {
	if p.Signer == nil {
		return ErrSignerCount
	}
	if cert == nil {
		return ErrNoSignerCert
	}
	si := p.Signer
	if si.SigningCertificateV2 == nil && si.SigningCertificate == nil {
		return ErrNoSigningCertAttr
	}
	for _, id := range []*ESSCertID{si.SigningCertificateV2, si.SigningCertificate} {
		if id == nil {
			continue
		}
		if err := id.check(cert); err != nil {
			return err
		}
	}
	return nil
}

func (id *ESSCertID) check(cert *x509.Certificate) error {
	if id.HashAlgorithm == 0 || !id.HashAlgorithm.Available() {
		return fmt.Errorf("%w: ESS certificate hash %v", ErrUnsupportedAlgorithm, id.HashAlgorithmOID)
	}
	if !bytes.Equal(digestOf(id.HashAlgorithm, cert.Raw), id.CertHash) {
		return fmt.Errorf("%w: certificate hash differs", ErrSigningCertMismatch)
	}
	if is := id.IssuerSerial; is != nil {
		if cert.SerialNumber == nil || is.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			return fmt.Errorf("%w: serial number differs", ErrSigningCertMismatch)
		}
		found := false
		for _, n := range is.DirectoryNames {
			if sameName(n, cert.RawIssuer) {
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("%w: issuer differs", ErrSigningCertMismatch)
		}
	}
	return nil
}
