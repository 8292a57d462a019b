// Package tsa implements the Time-Stamp Protocol of RFC 3161, with the
// ESSCertIDv2 signing-certificate binding of RFC 5816: a client that
// obtains and checks time-stamp tokens, a parser for tokens found in signed
// documents, and a small time-stamping server for development.
package tsa

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// MaxTokenSize bounds the size of a DER time-stamp token accepted by
// ParseToken. Real tokens, chain included, are a few kilobytes.
const MaxTokenSize = 1 << 20

// maxTokenCertificates bounds the certificates parsed out of one token.
const maxTokenCertificates = 32

var (
	// ErrInvalidToken is wrapped by every error ParseToken returns.
	ErrInvalidToken = errors.New("tsa: invalid time-stamp token")
	// ErrImprintMismatch reports a token that time-stamps other data.
	ErrImprintMismatch = errors.New("tsa: message imprint does not match")

	errUnsupportedHash = errors.New("unsupported hash algorithm")
)

// Token is a parsed and signature-checked RFC 3161 TimeStampToken.
type Token struct {
	DER          []byte              // the TimeStampToken (a CMS ContentInfo), ready to embed
	Time         time.Time           // genTime
	Hash         crypto.Hash         // imprint algorithm
	Certificate  *x509.Certificate   // the TSA's signing certificate
	Certificates []*x509.Certificate // every certificate carried in the token
	SerialNumber *big.Int

	HashedMessage []byte                // the imprint digest
	Policy        asn1.ObjectIdentifier // TSA policy under which the token was issued
	Accuracy      time.Duration         // zero when the TSA stated none
	Nonce         *big.Int              // nil when the request carried none
}

// ParseToken parses a DER TimeStampToken and checks everything the token
// itself can prove: the CMS structure holds exactly one signer over a
// TSTInfo, the signed attributes bind the content (content-type,
// message-digest) and the signer certificate (ESSCertID or ESSCertIDv2),
// the signature verifies with that certificate, the certificate is a TSA
// certificate (RFC 3161 section 2.3: one critical extendedKeyUsage,
// timeStamping only) and genTime lies within its validity period.
//
// It does not decide trust; see VerifyChain. The signer certificate must be
// carried in the token. Only DER is accepted, without trailing bytes, and at
// most MaxTokenSize of it. SHA-1 is refused for imprints and signatures.
func ParseToken(der []byte) (*Token, error) {
	t, err := parseToken(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return t, nil
}

func parseToken(der []byte) (*Token, error) {
	if len(der) > MaxTokenSize {
		return nil, fmt.Errorf("token is %d bytes, more than the %d allowed", len(der), MaxTokenSize)
	}
	var ci contentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil {
		return nil, fmt.Errorf("content info: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("trailing data after content info")
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("content type %v is not signed-data", ci.ContentType)
	}
	if !ci.Content.IsCompound {
		return nil, errors.New("signed-data content is not constructed")
	}
	var sd signedData
	if rest, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		return nil, fmt.Errorf("signed data: %w", err)
	} else if len(rest) > 0 {
		return nil, errors.New("trailing data after signed data")
	}
	if sd.Version < 1 || sd.Version > 5 {
		return nil, fmt.Errorf("signed data version %d", sd.Version)
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, fmt.Errorf("encapsulated content type %v is not TSTInfo", sd.EncapContentInfo.EContentType)
	}
	tstDER, err := unwrapOctetString(sd.EncapContentInfo.EContent)
	if err != nil {
		return nil, fmt.Errorf("encapsulated content: %w", err)
	}
	t, err := parseTSTInfo(tstDER)
	if err != nil {
		return nil, fmt.Errorf("TSTInfo: %w", err)
	}
	t.DER = der

	if t.Certificates, err = parseCertificateSet(sd.Certificates); err != nil {
		return nil, err
	}
	if len(sd.SignerInfos) != 1 {
		return nil, fmt.Errorf("token has %d signers, want exactly 1", len(sd.SignerInfos))
	}
	si := sd.SignerInfos[0]
	if t.Certificate, err = findSigner(si.SID, t.Certificates); err != nil {
		return nil, err
	}
	if err := verifySignerInfo(&si, tstDER, t.Certificate); err != nil {
		return nil, err
	}
	if err := CheckCertificate(t.Certificate); err != nil {
		return nil, err
	}
	if t.Time.Before(t.Certificate.NotBefore) || t.Time.After(t.Certificate.NotAfter) {
		return nil, fmt.Errorf("genTime %s is outside the TSA certificate validity %s to %s",
			t.Time.Format(time.RFC3339), t.Certificate.NotBefore.Format(time.RFC3339), t.Certificate.NotAfter.Format(time.RFC3339))
	}
	return t, nil
}

// unwrapOctetString returns the contents of the OCTET STRING held by an
// explicitly tagged element.
func unwrapOctetString(tagged asn1.RawValue) ([]byte, error) {
	if len(tagged.FullBytes) == 0 {
		return nil, errors.New("absent")
	}
	if !tagged.IsCompound {
		return nil, errors.New("explicit tag is not constructed")
	}
	var os asn1.RawValue
	if rest, err := asn1.Unmarshal(tagged.Bytes, &os); err != nil {
		return nil, err
	} else if len(rest) > 0 {
		return nil, errors.New("trailing data")
	}
	if os.Class != asn1.ClassUniversal || os.Tag != asn1.TagOctetString || os.IsCompound {
		return nil, errors.New("not a primitive OCTET STRING")
	}
	return os.Bytes, nil
}

func parseTSTInfo(der []byte) (*Token, error) {
	var info tstInfo
	if rest, err := asn1.Unmarshal(der, &info); err != nil {
		return nil, err
	} else if len(rest) > 0 {
		return nil, errors.New("trailing data")
	}
	if info.Version != 1 {
		return nil, fmt.Errorf("version %d, want 1", info.Version)
	}
	if len(info.Policy) == 0 {
		return nil, errors.New("no policy")
	}
	hash, digest, err := parseImprint(info.MessageImprint.FullBytes)
	if err != nil {
		return nil, fmt.Errorf("message imprint: %w", err)
	}
	if info.SerialNumber == nil || info.SerialNumber.Sign() < 0 {
		return nil, errors.New("missing or negative serial number")
	}
	acc, err := info.Accuracy.duration()
	if err != nil {
		return nil, err
	}
	for _, ext := range info.Extensions {
		if ext.Critical {
			return nil, fmt.Errorf("unsupported critical extension %v", ext.Id)
		}
	}
	return &Token{
		Time:          info.GenTime,
		Hash:          hash,
		SerialNumber:  info.SerialNumber,
		HashedMessage: digest,
		Policy:        info.Policy,
		Accuracy:      acc,
		Nonce:         info.Nonce,
	}, nil
}

// parseImprint decodes a MessageImprint and checks that the digest length
// matches its algorithm.
func parseImprint(der []byte) (crypto.Hash, []byte, error) {
	var mi messageImprint
	if rest, err := asn1.Unmarshal(der, &mi); err != nil {
		return 0, nil, err
	} else if len(rest) > 0 {
		return 0, nil, errors.New("trailing data")
	}
	h := hashForOID(mi.HashAlgorithm.Algorithm)
	if h == 0 {
		return 0, nil, fmt.Errorf("%w %v", errUnsupportedHash, mi.HashAlgorithm.Algorithm)
	}
	if !nullOrAbsent(mi.HashAlgorithm.Parameters) {
		return 0, nil, errors.New("hash algorithm has parameters")
	}
	if len(mi.HashedMessage) != h.Size() {
		return 0, nil, fmt.Errorf("digest is %d bytes, %v needs %d", len(mi.HashedMessage), h, h.Size())
	}
	return h, mi.HashedMessage, nil
}

func (a accuracy) duration() (time.Duration, error) {
	// The bound on seconds only keeps the arithmetic from overflowing; any
	// real TSA states an accuracy of seconds at most.
	if a.Seconds < 0 || a.Seconds > 1<<31 || a.Millis < 0 || a.Millis > 999 || a.Micros < 0 || a.Micros > 999 {
		return 0, fmt.Errorf("accuracy out of range: %ds %dms %dµs", a.Seconds, a.Millis, a.Micros)
	}
	return time.Duration(a.Seconds)*time.Second + time.Duration(a.Millis)*time.Millisecond +
		time.Duration(a.Micros)*time.Microsecond, nil
}

// parseCertificateSet parses the certificates of a CMS CertificateSet,
// skipping the other CertificateChoices (attribute certificates etc.).
func parseCertificateSet(set asn1.RawValue) ([]*x509.Certificate, error) {
	if len(set.FullBytes) == 0 {
		return nil, nil
	}
	var certs []*x509.Certificate
	rest := set.Bytes
	for len(rest) > 0 {
		var el asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &el); err != nil {
			return nil, fmt.Errorf("certificate set: %w", err)
		}
		if el.Class != asn1.ClassUniversal || el.Tag != asn1.TagSequence {
			continue
		}
		if len(certs) == maxTokenCertificates {
			return nil, fmt.Errorf("token carries more than %d certificates", maxTokenCertificates)
		}
		c, err := x509.ParseCertificate(el.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs), err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// findSigner picks the certificate named by a SignerIdentifier.
func findSigner(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerial
		if rest, err := asn1.Unmarshal(sid.FullBytes, &ias); err != nil {
			return nil, fmt.Errorf("signer identifier: %w", err)
		} else if len(rest) > 0 || ias.Serial == nil {
			return nil, errors.New("malformed signer identifier")
		}
		for _, c := range certs {
			if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0 && !sid.IsCompound:
		for _, c := range certs {
			if len(sid.Bytes) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, errors.New("malformed signer identifier")
	}
	return nil, errors.New("signer certificate is not in the token")
}

// verifySignerInfo checks the signed attributes and the signature.
func verifySignerInfo(si *signerInfo, content []byte, cert *x509.Certificate) error {
	h := hashForOID(si.DigestAlgorithm.Algorithm)
	if h == 0 {
		return fmt.Errorf("unsupported digest algorithm %v", si.DigestAlgorithm.Algorithm)
	}
	if len(si.SignedAttrs.FullBytes) == 0 || !si.SignedAttrs.IsCompound {
		return errors.New("signer has no signed attributes")
	}
	attrs, err := parseAttributes(si.SignedAttrs.Bytes)
	if err != nil {
		return fmt.Errorf("signed attributes: %w", err)
	}

	var ct asn1.ObjectIdentifier
	if v, ok := attrs[oidContentType.String()]; !ok {
		return errors.New("signed attributes lack content-type")
	} else if err := unmarshalExact(v.FullBytes, &ct); err != nil || !ct.Equal(oidTSTInfo) {
		return errors.New("content-type attribute is not TSTInfo")
	}

	var md []byte
	if v, ok := attrs[oidMessageDigest.String()]; !ok {
		return errors.New("signed attributes lack message-digest")
	} else if err := unmarshalExact(v.FullBytes, &md); err != nil {
		return fmt.Errorf("message-digest attribute: %w", err)
	}
	hh := h.New()
	hh.Write(content)
	if !bytes.Equal(md, hh.Sum(nil)) {
		return errors.New("message-digest attribute does not match the TSTInfo")
	}

	v1, hasV1 := attrs[oidSigningCert.String()]
	v2, hasV2 := attrs[oidSigningCertV2.String()]
	if !hasV1 && !hasV2 {
		return errors.New("signed attributes lack signing-certificate (ESSCertID or ESSCertIDv2)")
	}
	if hasV2 {
		if err := checkSigningCertificateV2(v2.FullBytes, cert); err != nil {
			return err
		}
	}
	if hasV1 {
		if err := checkSigningCertificate(v1.FullBytes, cert); err != nil {
			return err
		}
	}

	// The signature covers the DER of the attributes with a SET OF tag in
	// place of the [0] IMPLICIT one; the length octets are the same.
	signed := bytes.Clone(si.SignedAttrs.FullBytes)
	signed[0] = 0x31
	if err := verifySignature(cert.PublicKey, si.SignatureAlgorithm, h, signed, si.Signature); err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	return nil
}

// parseAttributes returns the single value of each attribute by type,
// refusing repeated types and multi-valued attributes.
func parseAttributes(der []byte) (map[string]asn1.RawValue, error) {
	out := make(map[string]asn1.RawValue)
	for rest := der; len(rest) > 0; {
		var a attribute
		var err error
		if rest, err = asn1.Unmarshal(rest, &a); err != nil {
			return nil, err
		}
		key := a.Type.String()
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("attribute %s repeated", key)
		}
		if len(a.Values) != 1 {
			return nil, fmt.Errorf("attribute %s has %d values, want 1", key, len(a.Values))
		}
		out[key] = a.Values[0]
	}
	return out, nil
}

func unmarshalExact(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return errors.New("trailing data")
	}
	return nil
}

func checkSigningCertificateV2(der []byte, cert *x509.Certificate) error {
	var sc signingCertificateV2
	if err := unmarshalExact(der, &sc); err != nil || len(sc.Certs) == 0 {
		return errors.New("malformed signing-certificate-v2 attribute")
	}
	id := sc.Certs[0] // the first one identifies the signer (RFC 5035 section 3)
	h := crypto.SHA256
	if len(id.HashAlgorithm.Algorithm) > 0 {
		if h = hashForOID(id.HashAlgorithm.Algorithm); h == 0 {
			return fmt.Errorf("signing-certificate-v2 uses unsupported hash %v", id.HashAlgorithm.Algorithm)
		}
	}
	hh := h.New()
	hh.Write(cert.Raw)
	if !bytes.Equal(id.CertHash, hh.Sum(nil)) {
		return errors.New("signing-certificate-v2 does not identify the signer certificate")
	}
	return checkIssuerSerial(id.IssuerSerial, cert)
}

func checkSigningCertificate(der []byte, cert *x509.Certificate) error {
	var sc signingCertificate
	if err := unmarshalExact(der, &sc); err != nil || len(sc.Certs) == 0 {
		return errors.New("malformed signing-certificate attribute")
	}
	id := sc.Certs[0]
	// SHA-1 serves only as a certificate identifier here (RFC 2634); the
	// certificate itself is verified with the signature.
	sum := sha1.Sum(cert.Raw)
	if !bytes.Equal(id.CertHash, sum[:]) {
		return errors.New("signing-certificate does not identify the signer certificate")
	}
	return checkIssuerSerial(id.IssuerSerial, cert)
}

// checkIssuerSerial checks the optional issuerSerial of an ESS certificate
// identifier: when present it must name the signer certificate.
func checkIssuerSerial(is essIssuerSerial, cert *x509.Certificate) error {
	if is.Serial == nil {
		return nil
	}
	if is.Serial.Cmp(cert.SerialNumber) != 0 {
		return errors.New("signing-certificate names another serial number")
	}
	for rest := is.Issuer.Bytes; len(rest) > 0; {
		var gn asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &gn); err != nil {
			return fmt.Errorf("signing-certificate issuer: %w", err)
		}
		if gn.Class == asn1.ClassContextSpecific && gn.Tag == 4 && bytes.Equal(gn.Bytes, cert.RawIssuer) {
			return nil
		}
	}
	return errors.New("signing-certificate names another issuer")
}

// verifySignature checks a CMS signature made with digest algorithm h.
func verifySignature(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, signed, sig []byte) error {
	hh := h.New()
	hh.Write(signed)
	digest := hh.Sum(nil)

	implied := map[string]crypto.Hash{
		oidSHA256WithRSA.String():   crypto.SHA256,
		oidSHA384WithRSA.String():   crypto.SHA384,
		oidSHA512WithRSA.String():   crypto.SHA512,
		oidECDSAWithSHA256.String(): crypto.SHA256,
		oidECDSAWithSHA384.String(): crypto.SHA384,
		oidECDSAWithSHA512.String(): crypto.SHA512,
	}
	if ih, ok := implied[alg.Algorithm.String()]; ok && ih != h {
		return fmt.Errorf("signature algorithm %v disagrees with digest algorithm %v", alg.Algorithm, h)
	}

	switch {
	case alg.Algorithm.Equal(oidRSAEncryption), alg.Algorithm.Equal(oidSHA256WithRSA),
		alg.Algorithm.Equal(oidSHA384WithRSA), alg.Algorithm.Equal(oidSHA512WithRSA):
		key, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA signature but the certificate key is not RSA")
		}
		return rsa.VerifyPKCS1v15(key, h, digest, sig)

	case alg.Algorithm.Equal(oidRSASSAPSS):
		key, ok := pub.(*rsa.PublicKey)
		if !ok {
			return errors.New("RSA-PSS signature but the certificate key is not RSA")
		}
		salt, err := pssSaltLength(alg.Parameters, h)
		if err != nil {
			return err
		}
		return rsa.VerifyPSS(key, h, digest, sig, &rsa.PSSOptions{SaltLength: salt, Hash: h})

	case alg.Algorithm.Equal(oidECDSAWithSHA256), alg.Algorithm.Equal(oidECDSAWithSHA384),
		alg.Algorithm.Equal(oidECDSAWithSHA512), alg.Algorithm.Equal(oidECPublicKey):
		key, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return errors.New("ECDSA signature but the certificate key is not ECDSA")
		}
		if !ecdsa.VerifyASN1(key, digest, sig) {
			return errors.New("ECDSA verification failed")
		}
		return nil
	}
	return fmt.Errorf("unsupported signature algorithm %v", alg.Algorithm)
}

// pssSaltLength validates RSASSA-PSS parameters against the CMS digest
// algorithm and returns the salt length.
func pssSaltLength(params asn1.RawValue, h crypto.Hash) (int, error) {
	var p pssParameters
	if err := unmarshalExact(params.FullBytes, &p); err != nil {
		return 0, fmt.Errorf("RSA-PSS parameters: %w", err)
	}
	if hashForOID(p.Hash.Algorithm) != h {
		return 0, errors.New("RSA-PSS hash differs from the digest algorithm")
	}
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return 0, errors.New("RSA-PSS mask generation is not MGF1")
	}
	var mgfHash pkix.AlgorithmIdentifier
	if err := unmarshalExact(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || hashForOID(mgfHash.Algorithm) != h {
		return 0, errors.New("RSA-PSS MGF1 hash differs from the digest algorithm")
	}
	if p.TrailerField != 1 || p.SaltLength < 0 {
		return 0, errors.New("RSA-PSS parameters out of range")
	}
	return p.SaltLength, nil
}

// CheckCertificate checks the profile RFC 3161 section 2.3 requires of a
// TSA certificate: exactly one extendedKeyUsage, critical, with
// id-kp-timeStamping alone, and a key usage (if present) that allows
// signatures.
func CheckCertificate(c *x509.Certificate) error {
	n, critical := 0, false
	for _, ext := range c.Extensions {
		if ext.Id.Equal(oidExtKeyUsage) {
			n++
			critical = ext.Critical
		}
	}
	switch {
	case n == 0:
		return errors.New("TSA certificate has no extendedKeyUsage")
	case n > 1:
		return errors.New("TSA certificate has more than one extendedKeyUsage extension")
	case !critical:
		return errors.New("TSA certificate extendedKeyUsage is not critical")
	case len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(c.UnknownExtKeyUsage) != 0:
		return errors.New("TSA certificate extendedKeyUsage is not timeStamping alone")
	case c.KeyUsage != 0 && c.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0:
		return errors.New("TSA certificate key usage does not allow signatures")
	}
	return nil
}

// VerifyImprint reports whether the token time-stamps digest made with hash.
// It returns an error wrapping ErrImprintMismatch when it does not.
func (t *Token) VerifyImprint(digest []byte, hash crypto.Hash) error {
	if hash != t.Hash {
		return fmt.Errorf("%w: token uses %v, not %v", ErrImprintMismatch, t.Hash, hash)
	}
	if !bytes.Equal(digest, t.HashedMessage) {
		return fmt.Errorf("%w: digest differs", ErrImprintMismatch)
	}
	return nil
}

// VerifyChain builds a chain from the TSA certificate to roots, valid at the
// token's genTime and allowing time-stamping, using the token's own
// certificates and intermediates as intermediate candidates.
func (t *Token) VerifyChain(roots *x509.CertPool, intermediates []*x509.Certificate) ([][]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	for _, c := range t.Certificates {
		pool.AddCert(c)
	}
	for _, c := range intermediates {
		pool.AddCert(c)
	}
	chains, err := t.Certificate.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: pool,
		CurrentTime:   t.Time,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err != nil {
		return nil, fmt.Errorf("tsa: verify TSA certificate chain: %w", err)
	}
	return chains, nil
}
