package cades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
)

// SignOptions selects the algorithms of a signature. The zero value signs with SHA-256 and, for
// RSA keys, PKCS#1 v1.5.
type SignOptions struct {
	// Hash digests the content, the signed attributes and the signer certificate (ESS).
	// crypto.SHA256 (default when zero), crypto.SHA384 or crypto.SHA512.
	Hash crypto.Hash
	// PSS selects RSASSA-PSS (RFC 4055/4056: MGF1 with Hash, salt length = Hash size, trailer 1)
	// instead of PKCS#1 v1.5. Only valid for RSA keys. Default false.
	PSS bool
}

func (o SignOptions) hash() (crypto.Hash, error) {
	switch o.Hash {
	case 0:
		return crypto.SHA256, nil
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return o.Hash, nil
	}
	return 0, fmt.Errorf("%w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupportedAlgorithm, o.Hash)
}

// Constant DER fragments. They are built once and only ever copied, never written to.
var (
	derOIDSignedData   = mustMarshal(OIDSignedData)
	derOIDMsgDigest    = mustMarshal(OIDAttrMessageDigest)
	derOIDSigCertV2    = mustMarshal(OIDAttrSigningCertificateV2)
	derOIDSigTimestamp = mustMarshal(OIDAttrSignatureTimeStampToken)
	// EncapsulatedContentInfo of a detached id-data signature: SEQUENCE { id-data }.
	derEncapData = tlv(tagSequence, mustMarshal(OIDData))
	// content-type attribute: SEQUENCE { id-contentType, SET { id-data } }.
	derAttrContentType = tlv(tagSequence, mustMarshal(OIDAttrContentType), tlv(tagSet, mustMarshal(OIDData)))
	derVersion1        = []byte{tagInteger, 1, 1}

	algsSHA256 = newAlgIDs(oidSHA256, oidSHA256WithRSA, oidECDSAWithSHA256, 32)
	algsSHA384 = newAlgIDs(oidSHA384, oidSHA384WithRSA, oidECDSAWithSHA384, 48)
	algsSHA512 = newAlgIDs(oidSHA512, oidSHA512WithRSA, oidECDSAWithSHA512, 64)
)

// algIDs holds the DER AlgorithmIdentifiers used with one hash.
type algIDs struct {
	digest []byte // parameters absent (RFC 5754 §2)
	rsa    []byte // sha*WithRSAEncryption, NULL parameters (RFC 4055 §5)
	pss    []byte // id-RSASSA-PSS with explicit RSASSA-PSS-params (RFC 4055 §3.1)
	ecdsa  []byte // ecdsa-with-SHA*, parameters absent (RFC 5758 §3.2)
}

func newAlgIDs(hash, rsaAlg, ecdsaAlg asn1.ObjectIdentifier, saltLen int) algIDs {
	null := []byte{tagNull, 0}
	hashWithNull := tlv(tagSequence, mustMarshal(hash), null)
	pssParams := tlv(tagSequence,
		tlv(tagCtx0, hashWithNull),
		tlv(tagCtx1, tlv(tagSequence, mustMarshal(oidMGF1), hashWithNull)),
		tlv(tagCtx2, mustMarshal(saltLen)))
	return algIDs{
		digest: tlv(tagSequence, mustMarshal(hash)),
		rsa:    tlv(tagSequence, mustMarshal(rsaAlg), null),
		pss:    tlv(tagSequence, mustMarshal(oidRSASSAPSS), pssParams),
		ecdsa:  tlv(tagSequence, mustMarshal(ecdsaAlg)),
	}
}

func algorithmsFor(h crypto.Hash) *algIDs {
	switch h {
	case crypto.SHA384:
		return &algsSHA384
	case crypto.SHA512:
		return &algsSHA512
	}
	return &algsSHA256
}

// SignedData is a built CMS SignedData, kept as encoded parts so that adding unsigned
// attributes and marshalling costs one allocation and no re-encoding. A SignedData must not be
// modified (AddSignatureTimestamp) concurrently; Sign itself is safe for concurrent use.
type SignedData struct {
	hash        crypto.Hash
	signerOpts  crypto.SignerOpts
	digestAlg   []byte   // shared constant
	sigAlg      []byte   // shared constant
	certs       [][]byte // certificate DER, shared with the caller's certificates
	certsLen    int
	sid         []byte // IssuerAndSerialNumber
	serial      []byte // DER INTEGER of the signer certificate's serial number
	signedAttrs []byte // [0] IMPLICIT SET OF Attribute
	signature   []byte
	unsigned    [][]byte // encoded Attributes, kept in DER SET OF order
	maxSigLen   int
}

// Sign builds a detached CMS SignedData (RFC 5652) over a precomputed content digest, as a
// PAdES baseline (CAdES, EN 319 122-1) signature needs it. Signed attributes: content-type
// (id-data), message-digest and signing-certificate-v2 (RFC 5035, with IssuerSerial); no
// signing-time, which PAdES forbids. The SignerInfo is version 1 with issuerAndSerialNumber,
// and the certificates field carries chain (leaf first, duplicates dropped).
//
// digest must be the opts.Hash digest of the content; chain[0] must be the certificate of signer.
// ctx is checked before the (possibly slow, not cancellable) signer is called.
func Sign(ctx context.Context, digest []byte, signer crypto.Signer, chain []*x509.Certificate, opts SignOptions) (*SignedData, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if signer == nil {
		return nil, errors.New("cades: nil signer")
	}
	s, err := newSignedData(signer.Public(), chain, opts)
	if err != nil {
		return nil, err
	}
	if len(digest) != s.hash.Size() {
		return nil, fmt.Errorf("cades: content digest is %d bytes, %v needs %d", len(digest), s.hash, s.hash.Size())
	}
	attrs := s.buildSignedAttrs(digest, chain[0])
	// The signature covers the attributes with their universal SET tag (RFC 5652 §5.4).
	attrsDigest := digestOf(s.hash, attrs)
	attrs[0] = tagCtx0
	s.signedAttrs = attrs

	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sig, err := signer.Sign(rand.Reader, attrsDigest, s.signerOpts)
	if err != nil {
		return nil, fmt.Errorf("cades: sign attributes: %w", err)
	}
	// MaxSize promised the PDF layer a bound; a longer value would overflow /Contents.
	if len(sig) == 0 || len(sig) > s.maxSigLen {
		return nil, fmt.Errorf("cades: signer returned a %d-byte signature, want 1..%d", len(sig), s.maxSigLen)
	}
	s.signature = sig
	return s, nil
}

// newSignedData checks the inputs and fills everything that does not depend on the digest.
func newSignedData(pub crypto.PublicKey, chain []*x509.Certificate, opts SignOptions) (*SignedData, error) {
	h, err := opts.hash()
	if err != nil {
		return nil, err
	}
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cades: empty certificate chain")
	}
	leaf := chain[0]
	if leaf.SerialNumber == nil || len(leaf.RawIssuer) == 0 || len(leaf.Raw) == 0 {
		return nil, errors.New("cades: signer certificate was not parsed from DER")
	}
	if k, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !k.Equal(pub) {
		return nil, ErrKeyMismatch
	}
	algs := algorithmsFor(h)
	s := &SignedData{hash: h, digestAlg: algs.digest}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		s.maxSigLen = k.Size()
		if opts.PSS {
			s.sigAlg = algs.pss
			s.signerOpts = &rsa.PSSOptions{SaltLength: h.Size(), Hash: h}
		} else {
			s.sigAlg = algs.rsa
			s.signerOpts = h
		}
	case *ecdsa.PublicKey:
		if opts.PSS {
			return nil, fmt.Errorf("%w: PSS needs an RSA key", ErrUnsupportedKey)
		}
		if k.Curve == nil {
			return nil, fmt.Errorf("%w: ECDSA key without curve", ErrUnsupportedKey)
		}
		s.maxSigLen = ecdsaMaxSigLen(k.Curve.Params().N.BitLen())
		s.sigAlg = algs.ecdsa
		s.signerOpts = h
	default:
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedKey, pub)
	}

	s.certs = make([][]byte, 0, len(chain))
	for i, c := range chain {
		if c == nil || len(c.Raw) == 0 {
			return nil, fmt.Errorf("cades: chain[%d] is not a parsed certificate", i)
		}
		if !slices.ContainsFunc(s.certs, func(d []byte) bool { return bytes.Equal(d, c.Raw) }) {
			s.certs = append(s.certs, c.Raw)
			s.certsLen += len(c.Raw)
		}
	}
	serial, err := asn1.Marshal(leaf.SerialNumber)
	if err != nil {
		return nil, fmt.Errorf("cades: encode serial number: %w", err)
	}
	s.serial = serial
	s.sid = tlv(tagSequence, leaf.RawIssuer, serial)
	return s, nil
}

// ecdsaMaxSigLen is the longest DER Ecdsa-Sig-Value for a group order of the given bit length:
// each INTEGER may need one extra octet so that it stays positive.
func ecdsaMaxSigLen(orderBits int) int {
	intLen := orderBits/8 + 1
	return tlvSize(2 * tlvSize(intLen))
}

// buildSignedAttrs returns the SET OF signed attributes with the universal SET tag.
func (s *SignedData) buildSignedAttrs(digest []byte, leaf *x509.Certificate) []byte {
	md := tlv(tagSequence, derOIDMsgDigest, tlv(tagSet, tlv(tagOctetString, digest)))

	// ESSCertIDv2 { hashAlgorithm DEFAULT sha256, certHash, issuerSerial }: DER omits a default.
	certHash := tlv(tagOctetString, digestOf(s.hash, leaf.Raw))
	issuerSerial := tlv(tagSequence, tlv(tagSequence, tlv(tagCtx4, leaf.RawIssuer)), s.serial)
	var certID []byte
	if s.hash == crypto.SHA256 {
		certID = tlv(tagSequence, certHash, issuerSerial)
	} else {
		certID = tlv(tagSequence, s.digestAlg, certHash, issuerSerial)
	}
	ess := tlv(tagSequence, derOIDSigCertV2, tlv(tagSet, tlv(tagSequence, tlv(tagSequence, certID))))

	attrs := [3][]byte{derAttrContentType, md, ess}
	slices.SortFunc(attrs[:], compareDER)
	return tlv(tagSet, attrs[0], attrs[1], attrs[2])
}

func compareDER(a, b []byte) int {
	switch {
	case derSetLess(a, b):
		return -1
	case derSetLess(b, a):
		return 1
	}
	return 0
}

// SignatureValue returns the content of the SignerInfo signature field: what a CAdES
// signature-time-stamp imprints. The slice must not be modified.
func (s *SignedData) SignatureValue() []byte { return s.signature }

// AddSignatureTimestamp adds an RFC 3161 TimeStampToken as an unsigned
// id-aa-signatureTimeStampToken attribute. Each call adds one attribute (EN 319 122-1 allows
// several). token must be one DER SEQUENCE (a ContentInfo); it is copied.
func (s *SignedData) AddSignatureTimestamp(token []byte) error {
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(token, &rv)
	if err != nil {
		return fmt.Errorf("cades: timestamp token: %w", err)
	}
	if len(rest) != 0 || rv.Class != asn1.ClassUniversal || rv.Tag != asn1.TagSequence || !rv.IsCompound {
		return errors.New("cades: timestamp token is not a single DER SEQUENCE")
	}
	attr := tlv(tagSequence, derOIDSigTimestamp, tlv(tagSet, token))
	i, _ := slices.BinarySearchFunc(s.unsigned, attr, compareDER)
	s.unsigned = slices.Insert(s.unsigned, i, attr)
	return nil
}

// SignatureTimestampAttrSize is the DER size of the unsigned attribute AddSignatureTimestamp
// makes from a token of tokenLen bytes; sum these for MaxSize's unsignedAttrBytes.
func SignatureTimestampAttrSize(tokenLen int) int {
	return tlvSize(len(derOIDSigTimestamp) + tlvSize(tokenLen))
}

// layout holds the content lengths of the nested elements of the encoding.
type layout struct {
	ciContent, sd, sdContent, si, siContent, total int
}

func (s *SignedData) layout(sigLen, unsignedLen int) layout {
	var l layout
	l.siContent = len(derVersion1) + len(s.sid) + len(s.digestAlg) + len(s.signedAttrs) + len(s.sigAlg) + tlvSize(sigLen)
	if unsignedLen > 0 {
		l.siContent += tlvSize(unsignedLen)
	}
	l.si = tlvSize(l.siContent)
	l.sdContent = len(derVersion1) + tlvSize(len(s.digestAlg)) + len(derEncapData) + tlvSize(l.si)
	if len(s.certs) > 0 {
		l.sdContent += tlvSize(s.certsLen)
	}
	l.sd = tlvSize(l.sdContent)
	l.ciContent = len(derOIDSignedData) + tlvSize(l.sd)
	l.total = tlvSize(l.ciContent)
	return l
}

func (s *SignedData) unsignedLen() int {
	n := 0
	for _, a := range s.unsigned {
		n += len(a)
	}
	return n
}

// Marshal returns the DER ContentInfo.
func (s *SignedData) Marshal() ([]byte, error) {
	if s.signature == nil {
		return nil, errors.New("cades: SignedData is not signed")
	}
	ul := s.unsignedLen()
	l := s.layout(len(s.signature), ul)
	b := make([]byte, 0, l.total)
	b = appendHeader(b, tagSequence, l.ciContent)
	b = append(b, derOIDSignedData...)
	b = appendHeader(b, tagCtx0, l.sd)
	b = appendHeader(b, tagSequence, l.sdContent)
	b = append(b, derVersion1...)
	b = appendHeader(b, tagSet, len(s.digestAlg))
	b = append(b, s.digestAlg...)
	b = append(b, derEncapData...)
	if len(s.certs) > 0 {
		b = appendHeader(b, tagCtx0, s.certsLen)
		for _, c := range s.certs {
			b = append(b, c...)
		}
	}
	b = appendHeader(b, tagSet, l.si)
	b = appendHeader(b, tagSequence, l.siContent)
	b = append(b, derVersion1...)
	b = append(b, s.sid...)
	b = append(b, s.digestAlg...)
	b = append(b, s.signedAttrs...)
	b = append(b, s.sigAlg...)
	b = appendHeader(b, tagOctetString, len(s.signature))
	b = append(b, s.signature...)
	if ul > 0 {
		b = appendHeader(b, tagCtx1, ul)
		for _, a := range s.unsigned {
			b = append(b, a...)
		}
	}
	if len(b) != l.total {
		return nil, fmt.Errorf("cades: internal error: encoded %d bytes, computed %d", len(b), l.total)
	}
	return b, nil
}

// MaxSize returns an upper bound of the DER size of the ContentInfo that Sign produces for this
// key, chain and options, once unsigned attributes totalling unsignedAttrBytes (DER size of the
// Attribute elements, see SignatureTimestampAttrSize) are added. It does not sign. For RSA the
// bound is exact; for ECDSA it assumes the longest DER signature value.
func MaxSize(pub crypto.PublicKey, chain []*x509.Certificate, opts SignOptions, unsignedAttrBytes int) (int, error) {
	if unsignedAttrBytes < 0 || unsignedAttrBytes > MaxParseSize {
		return 0, fmt.Errorf("cades: unsigned attribute size %d out of range", unsignedAttrBytes)
	}
	s, err := newSignedData(pub, chain, opts)
	if err != nil {
		return 0, err
	}
	s.signedAttrs = s.buildSignedAttrs(make([]byte, s.hash.Size()), chain[0])
	return s.layout(s.maxSigLen, unsignedAttrBytes).total, nil
}
